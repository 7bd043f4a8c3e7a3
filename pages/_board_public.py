"""What a board's public link (/b/<token>) shows anyone: the board's images in a grid, a lightbox (the image large,
its prompt as text, previous/next) and "Download all" as a zip. The link is checked again on every action, so a
tab opened before a revoke or an expiry stops showing the board at its next click."""

from __future__ import annotations

from nicegui import ui

from nanogen.errors import NotFound
from nanogen.library.boards import LINK_GONE, BoardInfo
from nanogen.library.downloads import ZIP_MAX_IMAGES
from nanogen.library.queries import ImageQuery, ImageRow

from ._text import set_attr
from .frame import frame, services


def link_gone() -> None:
    with ui.column().classes('w-full items-center text-center gap-4 py-16'):
        ui.icon('link_off', size='64px').classes('opacity-50')
        ui.label(LINK_GONE).classes('text-2xl').mark('board-link-gone')


class PublicBoard:
    """One visitor's tab on a linked board; `rows` is what the page loaded (the lightbox walks them)."""

    def __init__(self, token: str, board: BoardInfo, rows: list[ImageRow]) -> None:
        self.token = token
        self.board = board
        self.rows = rows
        self.index = 0

    def file(self, row: ImageRow, variant: str) -> str:
        return f'/b/{self.token}/files/{row.id}/{variant}'

    def build(self) -> None:
        with frame(None, 'Shared board'):
            self.page = ui.column().classes('w-full gap-3')
            with self.page:
                ui.label(self.board.name).classes('text-2xl font-semibold break-words').mark('board-title')
                if self.board.description:
                    ui.label(self.board.description).classes('opacity-70 break-words whitespace-pre-wrap')
                with ui.row().classes('items-center gap-3'):
                    count = self.board.image_count
                    ui.label(f'{count} image{"s" if count != 1 else ""}').classes('text-sm opacity-60')
                    if self.rows:
                        text = 'Download all' if count <= ZIP_MAX_IMAGES else f'Download the newest {ZIP_MAX_IMAGES}'
                        ui.button(text, icon='folder_zip', on_click=self.download_all).props('no-caps').mark(
                            'download-all')
                if not self.rows:
                    ui.label('No images on this board yet.').classes('opacity-70 py-8').mark('board-empty')
                with ui.element('div').classes(
                        'w-full grid gap-2 grid-cols-2 sm:grid-cols-3 md:grid-cols-4 lg:grid-cols-6'):
                    for row in self.rows:
                        set_attr(ui.image(self.file(row, 'thumb')).props('fit=cover'), 'alt', row.prompt).classes(
                            'w-full aspect-square cursor-pointer rounded').on(
                            'click', lambda r=row.id: self.open(r)).mark(f'linked-{row.id}')
        self.dialog = ui.dialog().props('maximized')
        with self.dialog, ui.card().classes('w-full h-full p-0 no-shadow'):
            self.body = ui.row().classes('w-full h-full no-wrap max-md:flex-col gap-0').mark('public-lightbox')

    async def still_linked(self) -> bool:
        """The link works now; else the page says it is gone (and nothing of the board stays on screen)."""
        try:
            await services().library.boards.resolve_link(self.token)
        except NotFound:
            self.dialog.close()
            self.page.clear()
            with self.page:
                link_gone()
            return False
        return True

    async def open(self, image_id: int) -> None:
        if not await self.still_linked():
            return
        self.index = next((i for i, r in enumerate(self.rows) if r.id == image_id), 0)
        self.render()
        self.dialog.open()

    async def step(self, delta: int) -> None:
        if 0 <= self.index + delta < len(self.rows) and await self.still_linked():
            self.index += delta
            self.render()

    def render(self) -> None:
        row, count = self.rows[self.index], len(self.rows)
        self.body.clear()
        with self.body:
            with ui.element('div').classes('relative grow h-full min-h-[50vh] bg-black flex items-center '
                                           'justify-center max-md:w-full max-md:h-[60vh] max-md:grow-0'):
                set_attr(ui.image(self.file(row, 'image')).props('fit=contain'), 'alt', row.prompt).classes(
                    'w-full h-full').mark('public-lightbox-image')
                ui.button(icon='chevron_left', on_click=lambda: self.step(-1)).props(
                    'round flat color=white size=lg').classes('absolute left-2 top-1/2').mark(
                    'public-prev').set_enabled(self.index > 0)
                ui.button(icon='chevron_right', on_click=lambda: self.step(1)).props(
                    'round flat color=white size=lg').classes('absolute right-2 top-1/2').mark(
                    'public-next').set_enabled(self.index < count - 1)
            with ui.column().classes('w-full md:w-96 shrink-0 p-4 gap-3'):
                with ui.row().classes('w-full items-center'):
                    ui.label(f'Image {self.index + 1} of {count}').classes('opacity-60').mark('public-position')
                    ui.space()
                    ui.button(icon='close', on_click=self.dialog.close).props('flat round').mark('public-close')
                ui.label(row.prompt).classes('text-base whitespace-pre-wrap break-words').mark('public-prompt')
                ui.label(f'{row.width}×{row.height} · {row.aspect_ratio}').classes('text-sm opacity-60')

    async def download_all(self) -> None:
        if await self.still_linked():
            ui.download(f'/b/{self.token}/zip')
            ui.notify('Preparing the zip…')


async def linked_board(token: str) -> None:
    """The page behind a public link: the board, or the one message every link that does not work gets."""
    try:
        board, page = await services().library.linked_board_images(token, ImageQuery(), limit=200)
    except NotFound:
        with frame(None, ''):
            link_gone()
        return
    PublicBoard(token, board, page.items).build()
