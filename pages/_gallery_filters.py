"""The gallery's filters beyond text, size, ratio and dates (issue 16): tags with autocomplete, stars, model,
resolution (1K/2K/4K of the models sized by resolution), board, cost range; and saved searches shown as chips that restore their filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from nicegui import ui

from nanogen.config import RESOLUTIONS
from nanogen.errors import InvalidInput, NanogenError
from nanogen.generation.catalogue import ALL_RATIOS
from nanogen.library.queries import ImageQuery

from .frame import PageContext, notify_error

MODELS = ('nanobanana', 'nanobanana-pro', 'nanobanana-2')  # the model ids of nanogen/generation/catalogue.py
RATIO_OPTIONS = {'': 'Any ratio', **{r: r for r in ALL_RATIOS}}  # every ratio any model makes
RATINGS = {0: 'Any stars', **{n: '★' * n + ' or more' for n in range(1, 6)}}


def parse_day(text: str | None, what: str) -> datetime | None:
    """'2026-05-01' -> that day's start in UTC; empty -> None; anything else -> a message saying what to type."""
    if not text:
        return None
    try:
        return datetime.strptime(text.strip(), '%Y-%m-%d').replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f'The {what} date must look like 2026-05-01.', field=what) from None


def _money(text: Any, what: str) -> Decimal | None:
    if text in (None, ''):
        return None
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise InvalidInput(f'The {what} cost must be a number of dollars, like 0.05.', field=what) from None
    if value < 0 or not value.is_finite():
        raise InvalidInput(f'The {what} cost must be a number of dollars, like 0.05.', field=what)
    return value


class ExtraFilters:
    """Built inside the gallery's filter row; `values()` gives the ImageQuery fields they set."""

    def __init__(self, ctx: PageContext, on_change: Callable[[], Awaitable[None]], *, boards: bool) -> None:
        self.ctx = ctx
        self.tags = ui.select([], multiple=True, with_input=True, new_value_mode='add-unique', label='Tags',
                              on_change=on_change).props('outlined dense use-chips clearable').classes('w-56').mark(
            'tag-filter')
        self.tags.on('filter', self._suggest)
        self.rating = ui.select(RATINGS, value=0, label='Stars', on_change=on_change).props('outlined dense').classes(
            'w-36').mark('rating-filter')
        self.model = ui.select({'': 'Any model', **{m: m for m in MODELS}}, value='', label='Model',
                               on_change=on_change).props('outlined dense').classes('w-40').mark('model-filter')
        self.resolution = ui.select({'': 'Any resolution', **{r: r for r in RESOLUTIONS}}, value='',
                                    label='Resolution (Pro, 2)', on_change=on_change).props('outlined dense').classes(
            'w-40').mark('resolution-filter')
        self.board = ui.select({0: 'Any board'}, value=0, label='Board', on_change=on_change).props(
            'outlined dense').classes('w-40').mark('board-filter')
        self.board.set_visibility(boards)
        self.cost_min = ui.input('Cost from $', on_change=on_change).props('outlined dense debounce=350').classes(
            'w-28').mark('cost-min')
        self.cost_max = ui.input('Cost to $', on_change=on_change).props('outlined dense debounce=350').classes(
            'w-28').mark('cost-max')

    async def load(self) -> None:
        self.tags.set_options(await self.ctx.services.library.tagging.suggest(self.ctx.user.id),
                              value=self.tags.value)
        if self.board.visible:
            boards = await self.ctx.services.library.boards.visible_to(self.ctx.user.id)
            self.board.set_options({0: 'Any board', **{b.id: b.name for b in boards}}, value=self.board.value)

    async def _suggest(self, event: Any) -> None:
        prefix = str(event.args[0] if isinstance(event.args, list) and event.args else event.args or '')
        found = await self.ctx.services.library.tagging.suggest(self.ctx.user.id, prefix)
        self.tags.set_options(sorted(set(found) | set(self.tags.value or [])), value=self.tags.value)

    def values(self) -> dict[str, Any]:
        return {'tags': tuple(str(t).strip().lower() for t in self.tags.value or [] if str(t).strip()),
                'min_rating': int(self.rating.value) or None, 'model': self.model.value or None,
                'resolution': self.resolution.value or None,
                'board_id': int(self.board.value or 0) or None, 'cost_min': _money(self.cost_min.value, 'lowest'),
                'cost_max': _money(self.cost_max.value, 'highest')}

    def show(self, query: ImageQuery) -> None:
        """Put a saved search's values back into the widgets."""
        options = list(self.tags.options) if isinstance(self.tags.options, list) else []
        self.tags.set_options(sorted(set(options) | set(query.tags)), value=list(query.tags))
        self.rating.value = query.min_rating or 0
        self.model.value = query.model or ''
        self.resolution.value = query.resolution or ''
        self.board.value = query.board_id or 0
        self.cost_min.value = '' if query.cost_min is None else str(query.cost_min)
        self.cost_max.value = '' if query.cost_max is None else str(query.cost_max)


class SavedChips:
    """Saved searches as chips: click one to restore its filters; Save names the current ones."""

    def __init__(self, ctx: PageContext, current: Callable[[], ImageQuery],
                 restore: Callable[[ImageQuery], Awaitable[None]]) -> None:
        self.ctx, self.current, self.restore = ctx, current, restore
        with ui.row().classes('w-full items-center gap-2'):
            self.chips = ui.row().classes('items-center gap-1').mark('saved-searches')
            self.name = ui.input('Name this search').props('outlined dense maxlength=60').classes('w-48').mark(
                'saved-name')
            ui.button('Save search', icon='bookmark_add', on_click=self.save).props('flat no-caps').mark('save-search')

    async def load(self) -> None:
        saved = await self.ctx.services.library.tagging.saved_searches(self.ctx.user.id)
        self.chips.clear()
        with self.chips:
            for item in saved:
                ui.chip(item.name, icon='bookmark', removable=True,
                        on_click=lambda q=item.query: self.restore(q)).on(
                    'remove', lambda i=item.id: self.delete(i)).mark(f'saved-{item.id}')

    async def save(self) -> None:
        try:
            await self.ctx.services.library.tagging.save_search(self.ctx.user.id, self.name.value or '',
                                                                self.current())
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        self.name.value = ''
        ui.notify('Search saved.', type='positive')
        await self.load()

    async def delete(self, saved_id: int) -> None:
        try:
            await self.ctx.services.library.tagging.delete_saved_search(self.ctx.user.id, saved_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
        await self.load()
