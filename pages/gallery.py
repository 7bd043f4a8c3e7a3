"""The gallery: every image you made, searchable, loading as you scroll, with a lightbox and actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nicegui import ui

from nanogen.config import ASPECT_RATIOS, SIZES
from nanogen.errors import InvalidInput, NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.requests import parse_id
from nanogen.library.actions import ZIP_MAX_IMAGES
from nanogen.library.queries import ImageQuery, ImageRow
from nanogen.models import Status

from ._dates import iso_date
from ._live import on_prompt_events
from ._text import set_attr
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


def parse_day(text: str | None, what: str) -> datetime | None:
    """'2026-05-01' -> that day's start in UTC; empty -> None; anything else -> a message saying what to type."""
    if not text:
        return None
    try:
        return datetime.strptime(text.strip(), '%Y-%m-%d').replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f'The {what} date must look like 2026-05-01.', field=what) from None


class GalleryView:
    """The grid and its state for one browser tab; everything is rebuilt from the database on demand."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.client = ui.context.client
        self.rows: list[ImageRow] = []
        self.tiles: dict[int, ui.element] = {}
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
            self.size = ui.select({0: 'Any size', **{s: f'{s}px' for s in SIZES}}, value=0, label='Size',
                                  on_change=self.reload).props('outlined dense').classes('w-32').mark('size-filter')
            self.ratio = ui.select({'': 'Any ratio', **{r: r for r in ASPECT_RATIOS}}, value='', label='Aspect ratio',
                                   on_change=self.reload).props('outlined dense').classes('w-32').mark('ratio-filter')
            self.date_from = iso_date(ui.input('From', on_change=self.reload)).classes('w-40').mark('date-from')
            self.date_to = iso_date(ui.input('To', on_change=self.reload)).classes('w-40').mark('date-to')
            self.sort = ui.toggle({'newest': 'Newest', 'oldest': 'Oldest'}, value='newest',
                                  on_change=self.reload).props('no-caps').mark('sort')
        self.filter_error = ui.label().classes('text-negative text-sm').mark('filter-error')
        with ui.row().classes('w-full items-center gap-2') as self.selection_bar:
            self.selection_label = ui.label().classes('text-sm').mark('selection-count')
            ui.button('Download as zip', icon='folder_zip', on_click=self.download_zip).props(
                'no-caps').mark('download-zip')
            ui.button('Clear selection', icon='deselect', on_click=self.clear_selection).props('flat no-caps')
        self.selection_bar.set_visibility(False)
        with ui.column().classes('w-full items-center gap-3 py-12') as self.empty:
            self.empty_text = ui.label().classes('text-lg opacity-70').mark('empty')
            self.empty_button = ui.button('Write your first prompt', icon='auto_awesome',
                                          on_click=lambda: ui.navigate.to('/generator')).mark('first-prompt')
        self.empty.set_visibility(False)
        self.grid = ui.element('div').classes(
            'w-full grid gap-2 grid-cols-2 sm:grid-cols-3 md:grid-cols-4 lg:grid-cols-6').mark('grid')
        self.more = ui.button('Load more', icon='expand_more', on_click=self.load_more).props(
            'flat no-caps data-load-more').classes('self-center').mark('load-more')
        self.more.set_visibility(False)
        ui.add_body_html(INFINITE_SCROLL_JS)
        self.lightbox = Lightbox(self.ctx, rows=lambda: self.rows, load_more=self.load_more,
                                 on_changed=self.update_row, on_delete=self.delete)
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
                          sort=self.sort.value)

    @property
    def filtered(self) -> bool:
        return self.query != ImageQuery(sort=self.query.sort)

    async def reload(self) -> None:
        self.filter_error.text = ''
        try:
            query = self.read_filters()
            page = await self.ctx.services.browse.images(self.ctx.user.id, query, limit=PAGE_SIZE)
        except InvalidInput as exc:
            self.filter_error.text = exc.user_message
            return
        self.query = query
        self.rows, self.cursor = [], None
        self.tiles.clear()
        self.grid.clear()
        self.show(page.items, page.next_cursor)

    async def load_more(self) -> bool:
        """The next page, if there is one and none is on its way; True when rows were added."""
        if self.cursor is None or self.loading:
            return False
        self.loading = True
        try:
            page = await self.ctx.services.browse.images(self.ctx.user.id, self.query, cursor=self.cursor,
                                     limit=PAGE_SIZE)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return False
        finally:
            self.loading = False
        self.show(page.items, page.next_cursor)
        return bool(page.items)

    def show(self, rows: list[ImageRow], cursor: str | None) -> None:
        for row in rows:
            if row.id not in self.tiles:
                self.rows.append(row)
                self.add_tile(row)
        self.cursor = cursor
        self.more.set_visibility(cursor is not None)
        self.refresh_empty()

    def refresh_empty(self) -> None:
        self.empty.set_visibility(not self.rows)
        self.empty_text.text = ('No images match these filters.' if self.filtered else
                                'No images yet. Your first one is a prompt away.')
        self.empty_button.set_visibility(not self.filtered)

    def add_tile(self, row: ImageRow, *, first: bool = False) -> None:
        with self.grid:
            with ui.element('div').classes('relative group aspect-square rounded overflow-hidden bg-gray-200') as tile:
                set_attr(set_attr(ui.image(f'/files/{row.id}/thumb').props('fit=cover loading=lazy no-spinner'),
                                  'data-image-id', row.id), 'alt', row.prompt).classes(
                    'w-full h-full cursor-pointer').on('click', lambda r=row: self.open(r.id)).mark(f'tile-{row.id}')
                ui.checkbox(value=row.id in self.selected,
                            on_change=lambda e, i=row.id: self.select(i, bool(e.value))).props('dense').classes(
                    'absolute top-1 left-1 bg-white/70 rounded').mark(f'select-{row.id}')
                if row.is_favourite:
                    ui.icon('star', color='amber').classes('absolute top-1 right-1 text-xl').mark(f'fav-{row.id}')
        if first:
            tile.move(self.grid, target_index=0)
        self.tiles[row.id] = tile

    async def open(self, image_id: int) -> None:
        row = next((r for r in self.rows if r.id == image_id), None)
        if row is not None:
            await self.lightbox.open(row)

    async def open_by_id(self, image_id: int) -> None:
        """`?image=ID`: open that image even if it is not on the first page (only the viewer's own)."""
        try:
            row = await self.ctx.services.gallery.image_row(self.ctx.user.id, image_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if row.id not in self.tiles:
            self.rows.insert(0, row)
            self.add_tile(row, first=True)
            self.refresh_empty()
        await self.lightbox.open(row)

    def update_row(self, row: ImageRow) -> None:
        self.rows = [row if r.id == row.id else r for r in self.rows]
        if row.id in self.tiles:
            old = self.tiles.pop(row.id)
            index = list(self.grid).index(old)
            old.delete()
            self.add_tile(row)
            self.tiles[row.id].move(self.grid, target_index=index)

    # ------------------------------------------------------------------ live updates
    async def on_events(self, batch: list[PromptEvent]) -> None:
        image_ids = [i for e in reversed(batch) if e.status == Status.COMPLETED.value for i in e.image_ids]
        if not image_ids:
            return
        if self.filtered or self.query.sort != 'newest':
            await self.reload()  # the filters decide where (and whether) the new images belong
            return
        rows = await self.ctx.services.gallery.image_rows(self.ctx.user.id, image_ids)
        if self.client.is_deleted:
            return
        for row in reversed(rows):
            if row.id not in self.tiles:
                self.rows.insert(0, row)
                self.add_tile(row, first=True)
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
        for image_id in list(self.selected):
            self.selected.discard(image_id)
        self.selection_bar.set_visibility(False)
        for tile in self.tiles.values():
            for box in tile.descendants():
                if isinstance(box, ui.checkbox):
                    box.value = False

    def download_zip(self) -> None:
        ids = [r.id for r in self.rows if r.id in self.selected]
        if not ids:
            notify_error('Select images first: tick the box on each one.')
            return
        if len(ids) > ZIP_MAX_IMAGES:
            notify_error(f'A zip holds at most {ZIP_MAX_IMAGES} images; you selected {len(ids)}.')
            return
        ui.download(f'/files/zip?ids={",".join(map(str, ids))}')
        ui.notify(f'Preparing a zip of {len(ids)} image{"s" if len(ids) != 1 else ""}…')

    # ------------------------------------------------------------------ delete with undo
    async def delete(self, row: ImageRow) -> None:
        try:
            await self.ctx.services.gallery.soft_delete(self.ctx.user.id, [row.id])
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
        tile = self.tiles.pop(row.id, None)
        if tile is not None:
            tile.delete()
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
            self.undo_timer = ui.timer(self.ctx.services.gallery.undo_window_s, self.hide_undo, once=True)

    def hide_undo(self) -> None:
        self.undo_bar.set_visibility(False)
        self.undo_rows = []

    async def undo(self) -> None:
        rows, self.undo_rows = self.undo_rows, []
        self.undo_bar.set_visibility(False)
        if not rows:
            return
        try:
            restored = await self.ctx.services.gallery.undo_delete(self.ctx.user.id, [r.id for r in rows])
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
    if image:
        if (image_id := parse_id(image)) is not None:
            await view.open_by_id(image_id)
        else:
            notify_error('That image does not exist.')
    on_prompt_events(ctx.user.id, view.on_events, statuses=(Status.COMPLETED.value,))
