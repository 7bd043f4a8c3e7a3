"""The gallery: every image you made, searchable, loading as you scroll, with a lightbox and actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from nicegui import ui

from nanogen.config import SIZES
from nanogen.errors import InvalidInput, NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.requests import parse_id
from nanogen.library.boards import BoardInfo
from nanogen.library.downloads import ZIP_MAX_IMAGES
from nanogen.library.queries import ImageQuery, ImageRow, Page
from nanogen.models import Status

from ._dates import iso_date
from ._edit_dialog import EditDialog, compose
from ._free import weak
from ._gallery_boards import BoardTargets
from ._gallery_filters import RATIO_OPTIONS, ExtraFilters, SavedChips, parse_day
from ._gallery_tile import TileGrid
from ._live import on_prompt_events
from .frame import PageContext, frame, guarded_page, notify_error
from .gallery_lightbox import Lightbox

PAGE_SIZE = 60
UNDO_BAR_STYLE = 'z-index: 9600'  # above Quasar's notifications layer (9500)

# Clicks the "load more" sentinel whenever it comes near the viewport: infinite scroll without a server round trip
# per scroll event. The button stays a plain button, so it also works without this (and in tests).
INFINITE_SCROLL_JS = '''<script>
setInterval(() => {
  const el = document.querySelector('[data-load-more]');
  if (!el || el.dataset.busy || el.offsetParent === null) return;
  if (el.getBoundingClientRect().top < window.innerHeight + 800) {
    el.dataset.busy = '1';
    el.click();
    setTimeout(() => { delete el.dataset.busy; }, 700);
  }
}, 250);
</script>'''


class GalleryView:
    """The grid and its state for one browser tab; everything is rebuilt from the database on demand. The parts it
    holds (grid, lightbox, filters, board targets) get its methods weakly (pages/_free.py's `weak`): no reference
    cycle keeps a closed tab's view for the garbage collector."""

    def __init__(self, ctx: PageContext, board: BoardInfo | None = None, *, team: bool = False,
                 on_cover: Callable[[int], Awaitable[None]] | None = None,
                 on_board_changed: Callable[[], Awaitable[None]] | None = None) -> None:
        self.ctx = ctx
        self.team = team  # the Team gallery (pages/boards.py): images on boards shared with the viewer's groups
        self.board = board  # None: the viewer's gallery; else that board's images (pages/boards.py)
        self.on_cover = on_cover  # a board's owner: "Use as cover" (selection bar, lightbox)
        self.on_board_changed = on_board_changed  # images left the board: its header (cover, count) is redrawn
        # The viewer's own gallery puts images on boards: by "Add to board" or by dragging tiles onto a board chip.
        self.targets = BoardTargets(ctx, chosen=weak(self.chosen), on_added=weak(self.clear_selection)) \
            if board is None and not team else None
        self.client = ui.context.client
        self.rows: list[ImageRow] = []
        self.selected: set[int] = set()
        self.cursor: str | None = None
        self.query = ImageQuery()
        self.loading = False
        self.undo_rows: list[ImageRow] = []
        self.undo_timer: ui.timer | None = None

    # ------------------------------------------------------------------ layout
    def build(self) -> None:
        with ui.row().classes('w-full items-end gap-3 flex-wrap'):
            self.search = ui.input('Search prompts', on_change=self.reload).props(
                'outlined dense clearable debounce=350').classes('w-72').mark('search')
            with self.search.add_slot('prepend'):
                ui.icon('search')
            self.favourites = ui.switch('Favourites', on_change=self.reload).mark('favourites-only')
            self.group = ui.switch('Group versions', on_change=self.reload).tooltip(
                'One tile per image and its edits (under the first version)').mark('group-versions')
            self.size = ui.select({0: 'Any size', **{s: f'{s}px' for s in SIZES}}, value=0, label='Size (Nano Banana)',
                                  on_change=self.reload).props('outlined dense').classes('w-40').mark('size-filter')
            self.ratio = ui.select(RATIO_OPTIONS, value='', label='Aspect ratio',
                                   on_change=self.reload).props('outlined dense').classes('w-32').mark('ratio-filter')
            self.date_from = iso_date(ui.input('From', on_change=self.reload)).classes('w-40').mark('date-from')
            self.date_to = iso_date(ui.input('To', on_change=self.reload)).classes('w-40').mark('date-to')
            self.sort = ui.toggle({'newest': 'Newest', 'oldest': 'Oldest'}, value='newest',
                                  on_change=self.reload).props('no-caps').mark('sort')
            self.extra = ExtraFilters(self.ctx, weak(self.reload), boards=self.board is None)
        own = self.board is None and not self.team
        self.saved = SavedChips(self.ctx, weak(self.current_query), weak(self.restore)) if own else None
        self.filter_error = ui.label().classes('text-negative text-sm').mark('filter-error')
        if self.targets is not None:
            self.targets.build_chips()
        with ui.row().classes('w-full items-center gap-2') as self.selection_bar:
            self.selection_label = ui.label().classes('text-sm').mark('selection-count')
            ui.button('Download as zip', icon='folder_zip', on_click=self.download_zip).props(
                'no-caps').mark('download-zip').set_visibility(not self.team)
            if self.targets is not None:
                self.targets.build_choice()
                ui.button('Use as references', icon='add_photo_alternate', on_click=self.use_as_references).props(
                    'no-caps').mark('use-as-references')
            elif self.board is not None and self.board.can_edit:
                ui.button('Remove from board', icon='remove_circle_outline', on_click=self.remove_from_board).props(
                    'flat no-caps').mark('remove-from-board')
            if self.on_cover is not None:
                ui.button('Use as cover', icon='wallpaper', on_click=self.cover_from_selection).props(
                    'flat no-caps').mark('use-as-cover')
            ui.button('Clear selection', icon='deselect', on_click=self.clear_selection).props('flat no-caps')
        self.selection_bar.set_visibility(False)
        with ui.column().classes('w-full items-center gap-3 py-12') as self.empty:
            self.empty_text = ui.label().classes('text-lg opacity-70').mark('empty')
            self.empty_button = ui.button('Write your first prompt', icon='auto_awesome',
                                          on_click=lambda: ui.navigate.to('/generator')).mark('first-prompt')
        self.empty.set_visibility(False)
        self.grid = TileGrid(on_open=weak(self.open), on_select=weak(self.select), on_edit=weak(self.edit),
                             on_drag=self.targets.drag_start if self.targets is not None else None)
        self.more = ui.button('Load more', icon='expand_more', on_click=self.load_more).props(
            'flat no-caps data-load-more').classes('self-center').mark('load-more')
        self.more.set_visibility(False)
        ui.add_body_html(INFINITE_SCROLL_JS)
        self.lightbox = Lightbox(self.ctx, rows=weak(self.current_rows), load_more=weak(self.load_more),
                                 on_changed=weak(self.update_row), on_delete=weak(self.delete),
                                 manage=self.board is None and not self.team, on_cover=self.on_cover)
        # Above the maximized lightbox (Quasar dialogs sit at z-index 6000) and above notifications (9500): an
        # unrelated toast ("Prompt copied") must never cover Undo during its window.
        with ui.card().classes('fixed bottom-4 left-1/2 -translate-x-1/2 flex-row items-center gap-4 '
                               'bg-gray-900 text-white').style(UNDO_BAR_STYLE) as self.undo_bar:
            self.undo_text = ui.label()
            ui.button('Undo', icon='undo', on_click=self.undo).props('flat color=amber no-caps').mark('undo')
        self.undo_bar.set_visibility(False)

    # ------------------------------------------------------------------ loading
    def read_filters(self) -> ImageQuery:
        date_from = parse_day(self.date_from.value, 'from')
        date_to = parse_day(self.date_to.value, 'to')
        return ImageQuery(search=(self.search.value or '').strip() or None, favourites_only=bool(self.favourites.value),
                          size=int(self.size.value) or None, aspect_ratio=self.ratio.value or None,
                          date_from=date_from, date_to=date_to + timedelta(days=1) if date_to else None,
                          sort=self.sort.value, group_versions=bool(self.group.value), **self.extra.values())

    async def restore(self, query: ImageQuery) -> None:
        """A saved search's chip: its filters back in the widgets, then the grid."""
        self.search.value = query.search or ''
        self.favourites.value = query.favourites_only
        self.group.value = query.group_versions
        self.size.value, self.ratio.value, self.sort.value = query.size or 0, query.aspect_ratio or '', query.sort
        self.date_from.value = f'{query.date_from:%Y-%m-%d}' if query.date_from else ''
        self.date_to.value = f'{query.date_to - timedelta(days=1):%Y-%m-%d}' if query.date_to else ''
        self.extra.show(query)
        await self.reload()

    def current_query(self) -> ImageQuery:
        return self.query

    def current_rows(self) -> list[ImageRow]:
        return self.rows

    @property
    def filtered(self) -> bool:
        return self.query != ImageQuery(sort=self.query.sort, group_versions=self.query.group_versions)

    async def reload(self) -> None:
        self.filter_error.text = ''
        try:
            query = self.read_filters()
            page = await self.fetch(query, None)
        except InvalidInput as exc:
            self.filter_error.text = exc.user_message
            return
        self.query = query
        self.rows, self.cursor = [], None
        self.grid.clear()
        self.show(page.items, page.next_cursor)

    async def load_more(self) -> bool:
        """The next page, if there is one and none is on its way; True when rows were added."""
        if self.cursor is None or self.loading:
            return False
        self.loading = True
        try:
            page = await self.fetch(self.query, self.cursor)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return False
        finally:
            self.loading = False
        self.show(page.items, page.next_cursor)
        return bool(page.items)

    async def fetch(self, query: ImageQuery, cursor: str | None) -> Page[ImageRow]:
        if self.team:
            return await self.ctx.services.library.team_images(self.ctx.user.id, query, cursor=cursor, limit=PAGE_SIZE)
        if self.board is not None:
            return await self.ctx.services.library.board_images(self.ctx.user.id, self.board.id, query, cursor=cursor,
                                                                limit=PAGE_SIZE)
        return await self.ctx.services.library.images(self.ctx.user.id, query, cursor=cursor, limit=PAGE_SIZE)

    def show(self, rows: list[ImageRow], cursor: str | None) -> None:
        rows = [r for r in rows if r.id not in self.grid]
        self.rows.extend(rows)
        self.grid.append(rows, self.selected)
        self.cursor = cursor
        self.more.set_visibility(cursor is not None)
        self.refresh_empty()

    def refresh_empty(self) -> None:
        self.empty.set_visibility(not self.rows)
        self.empty_text.text = ('No images match these filters.' if self.filtered else
                                'No images on your groups\' shared boards yet.' if self.team else
                                'No images on this board yet: add some from the gallery.' if self.board else
                                'No images yet. Your first one is a prompt away.')
        self.empty_button.set_visibility(not self.filtered and self.board is None and not self.team)

    def use_as_references(self) -> None:
        compose(self.ctx, self.chosen())

    def edit(self, image_id: int) -> None:  # own gallery: the version arrives as a live tile; else it is in theirs
        EditDialog(self.ctx, image_id, on_started=lambda p: None if self.targets is not None else ui.notify(
            'Editing… the new version will be in your gallery.', type='positive')).open()

    async def open(self, image_id: int) -> None:
        row = next((r for r in self.rows if r.id == image_id), None)
        if row is not None:
            await self.lightbox.open(row)

    async def open_by_id(self, image_id: int) -> None:
        """`?image=ID`: open that image even if it is not on the first page (only the viewer's own)."""
        try:
            row = await self.ctx.services.library.image_row(self.ctx.user.id, image_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if row.id not in self.grid:
            self.rows.insert(0, row)
            self.grid.prepend([row], self.selected)
            self.refresh_empty()
        await self.lightbox.open(row)

    def update_row(self, row: ImageRow) -> None:
        self.rows = [row if r.id == row.id else r for r in self.rows]
        self.grid.replace(row)

    # ------------------------------------------------------------------ live updates
    async def on_events(self, batch: list[PromptEvent]) -> None:
        image_ids = [i for e in reversed(batch) if e.status == Status.COMPLETED.value for i in e.image_ids]
        if not image_ids:
            return
        if self.filtered or self.query.sort != 'newest':
            await self.reload()  # the filters decide where (and whether) the new images belong
            return
        rows = await self.ctx.services.library.image_rows(self.ctx.user.id, image_ids)
        if self.client.is_deleted:
            return
        rows = [r for r in rows if r.id not in self.grid]
        self.rows[:0] = rows
        self.grid.prepend(rows, self.selected)
        self.refresh_empty()
        ui.notify(f'{len(rows)} new image{"s" if len(rows) != 1 else ""} arrived.', type='info')

    # ------------------------------------------------------------------ selection and zip
    def select(self, image_id: int, value: bool) -> None:
        (self.selected.add if value else self.selected.discard)(image_id)
        self.selection_bar.set_visibility(bool(self.selected))
        n = len(self.selected)
        self.selection_label.text = f'{n} selected' + (f' (a zip holds at most {ZIP_MAX_IMAGES})'
                                                      if n > ZIP_MAX_IMAGES else '')

    def clear_selection(self) -> None:
        self.selected.clear()
        self.selection_bar.set_visibility(False)
        self.grid.show_selected(self.selected)

    def download_zip(self) -> None:
        ids = self.chosen()
        if not ids:
            notify_error('Select images first: tick the box on each one.')
            return
        if len(ids) > ZIP_MAX_IMAGES:
            notify_error(f'A zip holds at most {ZIP_MAX_IMAGES} images; you selected {len(ids)}.')
            return
        path = f'/boards/{self.board.id}/zip' if self.board else '/files/zip'
        ui.download(f'{path}?ids={",".join(map(str, ids))}')
        ui.notify(f'Preparing a zip of {len(ids)} image{"s" if len(ids) != 1 else ""}…')

    # ------------------------------------------------------------------ boards
    def chosen(self) -> list[int]:
        return [r.id for r in self.rows if r.id in self.selected]

    async def cover_from_selection(self) -> None:
        ids = self.chosen()
        if len(ids) != 1 or self.on_cover is None:
            notify_error('Select exactly one image to use as the cover.')
            return
        await self.on_cover(ids[0])

    async def remove_from_board(self) -> None:
        assert self.board is not None
        ids = self.chosen()
        try:
            removed = await self.ctx.services.library.boards.remove_images(self.ctx.user.id, self.board.id, ids)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(f'Removed {removed} image{"s" if removed != 1 else ""} from the board.', type='positive')
        self.clear_selection()
        await self.reload()
        if self.on_board_changed is not None:
            await self.on_board_changed()

    # ------------------------------------------------------------------ delete with undo
    async def delete(self, row: ImageRow) -> None:
        try:
            await self.ctx.services.library.delete_images(self.ctx.user.id, [row.id])
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if self.lightbox.row and self.lightbox.row.id == row.id:
            index = self.lightbox.index()
            neighbours = [r for r in self.rows if r.id != row.id]
            if neighbours and index >= 0:
                self.lightbox.row = neighbours[min(index, len(neighbours) - 1)]
            else:
                self.lightbox.close()
        self.rows = [r for r in self.rows if r.id != row.id]
        self.selected.discard(row.id)
        self.grid.remove(row.id)
        if self.lightbox.is_open:
            await self.lightbox.render()
        self.refresh_empty()
        self.offer_undo(row)

    def offer_undo(self, row: ImageRow) -> None:
        # Several deletes in a row share one bar: Undo brings back all of them still inside their window.
        self.undo_rows.append(row)
        n = len(self.undo_rows)
        self.undo_text.text = 'Image deleted.' if n == 1 else f'{n} images deleted.'
        self.undo_bar.set_visibility(True)
        if self.undo_timer is not None:
            self.undo_timer.cancel()
        with self.undo_bar:  # not inside the lightbox, whose content is rebuilt
            self.undo_timer = ui.timer(self.ctx.services.library.undo_window_s, self.hide_undo, once=True)

    def hide_undo(self) -> None:
        self.undo_bar.set_visibility(False)
        self.undo_rows = []

    async def undo(self) -> None:
        rows, self.undo_rows = self.undo_rows, []
        self.undo_bar.set_visibility(False)
        if not rows:
            return
        try:
            restored = await self.ctx.services.library.restore_images(self.ctx.user.id, [r.id for r in rows])
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if not restored:
            notify_error('Too late: that image is already gone for good.')
            return
        await self.reload()
        if len(restored) < len(rows):
            notify_error(f'Restored {len(restored)} of {len(rows)} images: the others were already gone.')
        else:
            ui.notify('Image restored.' if len(rows) == 1 else f'{len(rows)} images restored.', type='positive')


@guarded_page('/gallery', title='Gallery', nav='Gallery', icon='photo_library')
async def gallery_page(ctx: PageContext, image: str = '') -> None:
    view = GalleryView(ctx)
    with frame(ctx, 'Gallery'):
        view.build()
    await view.reload()
    if view.targets is not None:
        await view.targets.load()
    await view.extra.load()
    if view.saved is not None:
        await view.saved.load()
    if image:
        if (image_id := parse_id(image)) is not None:
            await view.open_by_id(image_id)
        else:
            notify_error('That image does not exist.')
    on_prompt_events(ctx.user.id, view.on_events, statuses=(Status.COMPLETED.value,))
