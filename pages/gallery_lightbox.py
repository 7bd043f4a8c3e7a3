"""The gallery's lightbox: one image large, its prompt and settings, prev/next, and every action on it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.library.queries import ImageRow
from nanogen.library.shares import ShareLink
from nanogen.models import utcnow

from ._format import duration, money
from ._text import set_attr
from ._versions import VersionPanel
from .frame import PageContext, notify_error

EXPIRY_CHOICES = {0: 'Never expires', 1: 'Expires in 1 day', 7: 'Expires in 7 days', 30: 'Expires in 30 days'}


def describe(row: ImageRow) -> list[tuple[str, str]]:
    """The settings and bookkeeping of one image, as label/value pairs a person reads."""
    facts = [('Size', f'{row.image_size}px · {row.aspect_ratio} · {row.width}×{row.height}'),
             ('Cost', money(row.cost) + (f' for {row.num_images} images' if row.num_images > 1 else '')),
             ('Duration', duration(row.duration_ms)),
             ('Created', f'{row.created_at:%Y-%m-%d %H:%M} UTC')]
    if row.watermark:
        facts.insert(1, ('Watermark', row.watermark))
    return facts


def remix_url(row: ImageRow) -> str:
    return '/generator?' + urlencode({'prompt': row.prompt, 'size': row.image_size, 'ratio': row.aspect_ratio})


class Lightbox:
    """A dialog over the grid; `rows()` is the grid's current list, so prev/next walk what the viewer sees."""

    def __init__(self, ctx: PageContext, *, rows: Callable[[], list[ImageRow]],
                 load_more: Callable[[], Awaitable[bool]], on_changed: Callable[[ImageRow], None],
                 on_delete: Callable[[ImageRow], Awaitable[None]], manage: bool = True,
                 on_cover: Callable[[int], Awaitable[None]] | None = None) -> None:
        self.ctx = ctx
        self.manage = manage  # False on a board: favourite, delete and share links stay in the owner's gallery
        self.on_cover = on_cover  # a board's owner: "Use as cover"
        self.rows = rows
        self.load_more = load_more
        self.on_changed = on_changed
        self.on_delete = on_delete
        self.row: ImageRow | None = None
        self.dialog = ui.dialog().props('maximized transition-show=fade transition-hide=fade')
        self.dialog.on_value_change(lambda e: None if e.value else self.body.clear())
        with self.dialog, ui.card().classes('w-full h-full p-0 no-shadow') as self.body_card:
            self.body = ui.row().classes('w-full h-full no-wrap max-md:flex-col max-md:overflow-y-auto gap-0').mark(
                'lightbox')

    @property
    def is_open(self) -> bool:
        return bool(self.dialog.value)

    async def open(self, row: ImageRow) -> None:
        self.row = row
        self.dialog.open()
        await self.render()

    def close(self) -> None:
        self.dialog.close()

    def index(self) -> int:
        ids = [r.id for r in self.rows()]
        return ids.index(self.row.id) if self.row and self.row.id in ids else -1

    async def step(self, delta: int) -> None:
        index = self.index()
        if index < 0:
            return
        rows = self.rows()
        if index + delta >= len(rows) and delta > 0 and await self.load_more():
            rows = self.rows()
        if 0 <= index + delta < len(rows):
            self.row = rows[index + delta]
            await self.render()

    async def replace(self, row: ImageRow) -> None:
        if self.row and self.row.id == row.id:
            self.row = row
            if self.is_open:
                await self.render()

    @property
    def manages(self) -> bool:
        """Favourite, delete, tags and share links: only in the owner's gallery, and only on their own image (the
        strip can open a teammate's version there)."""
        return self.manage and self.row is not None and self.row.owner_id == self.ctx.user.id

    async def render(self) -> None:
        row = self.row
        assert row is not None
        manage = self.manages
        index, count = self.index(), len(self.rows())
        self.body.clear()
        with self.body:
            # On a phone the row is a column: the image box needs its own width and height there (it was 0 px wide).
            with ui.element('div').classes('lightbox-stage relative grow h-full min-h-[50vh] bg-black flex '
                                           'items-center justify-center max-md:w-full max-md:h-[60vh] '
                                           'max-md:grow-0 max-md:shrink-0'):
                set_attr(ui.image(f'/files/{row.id}/image').props('fit=contain'), 'alt', row.prompt).classes(
                    'w-full h-full').mark('lightbox-image')
                ui.button(icon='chevron_left', on_click=lambda: self.step(-1)).props(
                    'round flat color=white size=lg').classes('lightbox-prev absolute left-2 top-1/2').mark(
                    'prev').set_enabled(index > 0)
                ui.button(icon='chevron_right', on_click=lambda: self.step(1)).props(
                    'round flat color=white size=lg').classes('lightbox-next absolute right-2 top-1/2').mark(
                    'next').set_enabled(0 <= index < count - 1)
            with ui.column().classes('w-full md:w-96 shrink-0 p-4 gap-3 h-full max-md:h-auto overflow-auto'):
                with ui.row().classes('w-full items-center'):
                    ui.label(f'Image {index + 1} of {count}' if index >= 0 else 'Image').classes('opacity-60')
                    ui.space()
                    ui.button(icon='close', on_click=self.close).props('flat round').mark('close-lightbox')
                ui.label(row.prompt).classes('text-base whitespace-pre-wrap break-words').mark('lightbox-prompt')
                with ui.grid(columns='auto 1fr').classes('gap-x-3 gap-y-1 text-sm'):
                    for label, value in describe(row):
                        ui.label(label).classes('opacity-60')
                        ui.label(value)
                with ui.row().classes('gap-1'):
                    if manage:
                        star = 'star' if row.is_favourite else 'star_border'
                        ui.button('Unfavourite' if row.is_favourite else 'Favourite', icon=star,
                                  on_click=self.toggle_favourite).props('flat no-caps').mark('favourite')
                    ui.button('Download', icon='download', on_click=lambda: ui.download(
                        f'/files/{row.id}/image?download=true')).props('flat no-caps').mark('download')
                    ui.button('Copy prompt', icon='content_copy', on_click=self.copy_prompt).props(
                        'flat no-caps').mark('copy-prompt')
                    ui.button('Remix', icon='auto_fix_high', on_click=lambda: ui.navigate.to(remix_url(row))).props(
                        'flat no-caps').mark('remix')
                    if (cover := self.on_cover) is not None:
                        ui.button('Use as cover', icon='wallpaper', on_click=lambda: cover(row.id)).props(
                            'flat no-caps').mark('lightbox-cover')
                    if manage:
                        ui.button('Delete', icon='delete', on_click=lambda: self.on_delete(row)).props(
                            'flat no-caps color=negative').mark('delete')
                if manage:
                    self.labels = ui.column().classes('w-full gap-1')
                ui.separator()
                await VersionPanel(self.ctx, row, self.show_version).build()
                ui.separator()
                self.shares = ui.column().classes('w-full gap-2')
        if manage:
            await self.render_labels(row)
            await self.render_shares()

    # ------------------------------------------------------------------ tags and stars (issue 16)
    async def render_labels(self, row: ImageRow) -> None:
        tagging = self.ctx.services.library.tagging
        try:
            tags, stars = await tagging.tags_of(self.ctx.user.id, row.id), await tagging.rating_of(self.ctx.user.id,
                                                                                                   row.id)
            known = await tagging.suggest(self.ctx.user.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if self.labels.is_deleted:
            return
        with self.labels:
            ui.rating(value=stars or 0, max=5, on_change=lambda e: self.rate(row, int(e.value or 0))).mark('stars')
            ui.select(sorted(set(known) | set(tags)), value=tags, multiple=True, with_input=True,
                      new_value_mode='add-unique', label='Tags',
                      on_change=lambda e: self.tag(row, list(e.value or []))).props(
                'outlined dense use-chips').classes('w-full').mark('tags')

    async def rate(self, row: ImageRow, stars: int) -> None:
        try:
            await self.ctx.services.library.tagging.set_rating(self.ctx.user.id, row.id, stars or None)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(f'Rated {stars} star{"s" if stars != 1 else ""}.' if stars else 'Rating cleared.')

    async def tag(self, row: ImageRow, tags: list[str]) -> None:
        try:
            saved = await self.ctx.services.library.tagging.set_tags(self.ctx.user.id, row.id, tags)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Tags saved: ' + ', '.join(saved) if saved else 'Tags cleared.')

    async def show_version(self, image_id: int) -> None:
        """Open another version of this image (from the strip, or the result of an edit)."""
        try:
            self.row = await self.ctx.services.library.visible_image_row(self.ctx.user.id, image_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if self.is_open:
            await self.render()

    async def toggle_favourite(self) -> None:
        row = self.row
        assert row is not None
        try:
            value = await self.ctx.services.library.toggle_favourite(self.ctx.user.id, row.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        updated = _with(row, is_favourite=value)
        self.on_changed(updated)
        await self.replace(updated)
        with self.body_card:  # the clicked button was just rebuilt away: notify from an element that stays
            ui.notify('Added to favourites.' if value else 'Removed from favourites.', type='positive')

    def copy_prompt(self) -> None:
        assert self.row is not None
        ui.clipboard.write(self.row.prompt)
        ui.notify('Prompt copied to the clipboard.')

    # ------------------------------------------------------------------ share links
    async def render_shares(self) -> None:
        row = self.row
        if row is None or self.shares.is_deleted:
            return
        try:
            links = await self.ctx.services.library.shares_of(self.ctx.user.id, row.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if self.shares.is_deleted:
            return
        now = utcnow()
        self.shares.clear()
        with self.shares:
            ui.label('Share').classes('font-semibold')
            with ui.row().classes('w-full items-center gap-2 no-wrap'):
                expiry = ui.select(EXPIRY_CHOICES, value=0).props('outlined dense').classes('grow').mark(
                    'share-expiry')
                ui.button('Create link', icon='link', on_click=lambda: self.share(row, int(expiry.value))).props(
                    'no-caps').mark('share')
            for link in links:
                if link.live(now):
                    self._share_row(link)

    def _share_row(self, link: ShareLink) -> None:
        url = self.absolute(link.path)
        with ui.row().classes('w-full items-center gap-1 no-wrap'):
            ui.input(value=url).props('readonly dense outlined data-share-url').classes('grow text-xs').mark(
                'share-url')
            ui.button(icon='content_copy', on_click=lambda: (ui.clipboard.write(url), ui.notify('Link copied.'))
                      ).props('flat dense round').tooltip('Copy link')
            ui.button(icon='link_off', on_click=lambda: self.revoke(link)).props(
                'flat dense round color=negative').tooltip('Revoke: the link stops working').mark(f'revoke-{link.id}')
        if link.expires_at:
            ui.label(f'Works until {link.expires_at:%Y-%m-%d %H:%M} UTC').classes('text-xs opacity-60')

    def absolute(self, path: str) -> str:
        base = self.ctx.services.settings.public_url or str(self.ctx.request.base_url).rstrip('/')
        return base + path

    async def share(self, row: ImageRow, days: int) -> None:
        try:
            link = await self.ctx.services.library.create_share(
                self.ctx.user.id, row.id, expires_in=timedelta(days=days) if days else None)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.clipboard.write(self.absolute(link.path))
        ui.notify('Share link created and copied: anyone with it can see this image and its prompt.',
                  type='positive')
        await self.render_shares()

    async def revoke(self, link: ShareLink) -> None:
        try:
            await self.ctx.services.library.revoke_share(self.ctx.user.id, link.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Link revoked: it no longer works.', type='positive')
        await self.render_shares()


def _with(row: ImageRow, **changes: object) -> ImageRow:
    return replace(row, **changes)  # type: ignore[arg-type]
