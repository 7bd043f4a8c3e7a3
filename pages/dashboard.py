"""The dashboard: a Generate button, your numbers, your latest images and what is running now, all live."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.library.queries import ImageQuery, ImageRow
from nanogen.models import Prompt, Status

from ._clock import server_now_ms, timing
from ._format import STATUS_COLORS, cancelled_notice, money
from ._live import on_prompt_events
from ._text import set_attr
from .frame import PageContext, frame, guarded_page, notify_error

RECENT_IMAGES = 6
IN_FLIGHT = 20  # running generations shown; the numbers above count them all


def stat_card(label: str, icon: str, marker: str) -> tuple[ui.label, ui.label]:
    """A number card; returns (value, hint) labels, so live updates set their text instead of rebuilding."""
    with ui.card().classes('gap-1'):
        with ui.row().classes('items-center gap-2 opacity-70'):
            ui.icon(icon)
            ui.label(label).classes('text-sm')
        value = ui.label().classes('text-2xl font-semibold').mark(marker)
        hint = ui.label().classes('text-xs opacity-60')
    return value, hint


class InFlightRowView(ui.element, component='_in_flight_row.js'):
    """A running generation in the browser: one element whose `row` prop is all it shows (see _in_flight_row.js)."""

    def _displayed_contents(self, *, only_visible: bool) -> list[Any]:
        """What the row shows as text, for NiceGUI's element filter (user.should_see and friends)."""
        row = self._props['row']
        return [row.get('label'), row.get('prompt'), row.get('message'), 'Cancel']


class InFlightRow:
    """One running generation: an event re-sends its `row` dict (badge, message); it is removed when it ends."""

    def __init__(self, prompt: Prompt, container: ui.element, on_cancel: Callable[[int], Awaitable[None]]) -> None:
        assert prompt.id is not None
        self.prompt = prompt
        pid = prompt.id
        with container:
            self.card = InFlightRowView().mark(f'in-flight-{pid}')
        self.card._props['row'] = {'id': pid, 'prompt': prompt.prompt, 'started': timing(prompt)['started'],
                                   'now': server_now_ms(), 'label': '', 'color': 'grey', 'message': ''}
        self.card.on('cancel', lambda: on_cancel(pid))
        self.show(prompt.status, '')

    def show(self, status: str, message: str) -> None:
        row = {**self.card.props['row'], 'label': status.title(), 'color': STATUS_COLORS.get(status, 'grey'),
               'message': message}
        if row != self.card.props['row']:  # an unchanged row sends nothing
            self.card.props['row'] = row
            self.card.update()


class Numbers:
    """The five number cards; live updates set their labels' text."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.client = ui.context.client

    def build(self) -> None:
        with ui.grid().classes('w-full grid-cols-2 md:grid-cols-5 gap-3'):
            self.cards = {
                'images': stat_card('Images made', 'photo_library', 'stat-images'),
                'month': stat_card('Spent this month', 'calendar_month', 'stat-spend-month'),
                'total': stat_card('Spent in total', 'payments', 'stat-spend-total'),
                'in_flight': stat_card('In flight', 'hourglass_top', 'stat-in-flight'),
                'success': stat_card('Success rate', 'verified', 'stat-success'),
            }
        for _value, hint in list(self.cards.values())[:4]:
            hint.set_visibility(False)

    async def show(self) -> None:
        s = await self.ctx.services.stats.summary(self.ctx.user.id)
        if self.client.is_deleted:
            return
        numbers = self.cards
        numbers['images'][0].text = str(s.images_made)
        numbers['month'][0].text = money(s.spend_month)
        numbers['total'][0].text = money(s.spend_total)
        numbers['in_flight'][0].text = str(s.in_flight)
        numbers['success'][0].text = '–' if s.success_rate is None else f'{s.success_rate:.0%}'
        numbers['success'][1].text = (f'{s.completed} done · {s.failed} failed' if s.success_rate is not None
                                      else 'nothing yet')


class InFlight:
    """The running generations (at most IN_FLIGHT), each an InFlightRow kept across updates."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.client = ui.context.client
        self.running: dict[int, InFlightRow] = {}
        self.messages: dict[int, str] = {}

    def build(self) -> None:
        ui.label('In flight').classes('text-lg font-semibold')
        self.column = ui.column().classes('w-full gap-2')
        with self.column:
            self.nothing = ui.label('Nothing is running right now.').classes('opacity-60').mark('no-in-flight')

    async def cancel(self, prompt_id: int) -> None:
        try:
            cancelled = await self.ctx.services.generation.cancel(self.ctx.user.id, prompt_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(cancelled_notice(cancelled))

    async def show(self) -> None:
        # One read for the list; rows that stay keep their elements, so a burst of events adds and removes
        # cards instead of rebuilding twenty of them per event.
        prompts = await self.ctx.services.library.recent_prompts(self.ctx.user.id, limit=IN_FLIGHT,
                                                                 unfinished_only=True)
        if self.client.is_deleted:
            return
        running = self.running
        wanted = {p.id: p for p in prompts if p.id is not None}
        for pid in [pid for pid in running if pid not in wanted]:
            running.pop(pid).card.delete()
            self.messages.pop(pid, None)
        for index, (pid, p) in enumerate(wanted.items()):
            row = running.get(pid)
            if row is None:
                row = running[pid] = InFlightRow(p, self.column, self.cancel)
                row.card.move(self.column, target_index=index)
            row.prompt = p
            row.show(p.status, self.messages.get(pid, ''))
        self.nothing.set_visibility(not running)


class RecentImages:
    """The latest RECENT_IMAGES thumbnails; rebuilt (this tab only) when a generation completes. Not a
    ui.refreshable_method: its class-wide list of targets kept every closed dashboard until the next one loaded."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.box: ui.element | None = None

    async def show(self) -> None:
        """The first call places the thumbnails where it is made; later calls rebuild them there."""
        if self.box is None:
            self.box = ui.element().classes('w-full')
        page = await self.ctx.services.library.images(self.ctx.user.id, ImageQuery(), limit=RECENT_IMAGES)
        self.box.clear()  # read first, then clear and build with no await between: bursts never double the grid
        with self.box:
            self._build(page.items)

    def _build(self, items: list[ImageRow]) -> None:
        if not items:
            with ui.card().classes('w-full items-center py-8').mark('no-images'):
                ui.icon('image', size='xl').classes('opacity-40')
                ui.label('No images yet: your first one is a prompt away.').classes('opacity-70')
                ui.button('Open the generator', on_click=lambda: ui.navigate.to('/generator')).props('flat')
            return
        with ui.grid().classes('w-full grid-cols-2 sm:grid-cols-3 lg:grid-cols-6 gap-3'):
            for row in items:
                thumb = set_attr(ui.image(f'/files/{row.id}/thumb'), 'alt', row.prompt)
                set_attr(thumb, 'data-image-id', row.id)
                with thumb.classes('w-full aspect-square rounded-lg cursor-pointer').mark('recent-image') \
                        .on('click', lambda i=row.id: ui.navigate.to(f'/gallery?image={i}')):
                    ui.label(row.prompt).classes('absolute-bottom text-xs line-clamp-2 p-2')


@guarded_page('/dashboard', title='Dashboard', nav='Dashboard', icon='dashboard')
async def dashboard_page(ctx: PageContext) -> None:
    client = ui.context.client
    numbers, in_flight, recent = Numbers(ctx), InFlight(ctx), RecentImages(ctx)
    with frame(ctx, f'Welcome, {ctx.user.name}'):
        with ui.row().classes('w-full items-center gap-4'):
            ui.button('Generate', icon='auto_awesome', on_click=lambda: ui.navigate.to('/generator')).props(
                'size=xl unelevated').classes('px-8').mark('dashboard-generate')
            ui.label('Write a prompt, get images in seconds.').classes('opacity-70')
        numbers.build()
        in_flight.build()
        with ui.row().classes('w-full items-center'):
            ui.label('Recent images').classes('text-lg font-semibold')
            ui.space()
            ui.link('All images →', '/gallery').classes('text-sm')
        await numbers.show()
        await in_flight.show()
        await recent.show()

    async def on_events(batch: list[PromptEvent]) -> None:
        # Status changes and messages of shown rows need no database; new or ended generations change the list and
        # the numbers: one read each per batch, not per event.
        list_changed = numbers_changed = False
        for event in batch:
            finished = Status(event.status).finished
            if finished:
                in_flight.messages.pop(event.prompt_id, None)
            else:
                in_flight.messages[event.prompt_id] = event.message
            row = in_flight.running.get(event.prompt_id)
            if row is not None and not finished:
                row.show(event.status, event.message)
            else:
                list_changed = list_changed or row is not None or not finished
                numbers_changed = True
        if numbers_changed:
            await numbers.show()
        if list_changed and not client.is_deleted:
            await in_flight.show()
        if not client.is_deleted and any(e.status == Status.COMPLETED.value and e.image_ids for e in batch):
            await recent.show()

    on_prompt_events(ctx.user.id, on_events)
