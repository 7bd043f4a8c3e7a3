"""The gallery's ways onto a board (issue 16): the selection bar's board choice with "Add to board", and one chip per
board the viewer may add to, onto which a tile (or the whole selection it is part of) is dragged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.library.boards import BoardInfo

from ._gallery_tile import DRAG_TYPE
from .frame import PageContext, notify_error

DROP_CSS = '.board-target.drop-ready { outline: 2px solid var(--q-primary); outline-offset: 2px; }'
# Only a drag that started on a tile reaches the server; a dropped file or link is ignored in the browser. The
# default is prevented, so the browser never opens a dropped image instead.
DROP_JS = (f"(e) => {{ e.preventDefault(); e.currentTarget.classList.remove('drop-ready'); "
           f"if (e.dataTransfer && e.dataTransfer.types.includes('{DRAG_TYPE}')) emit(); }}")
OVER_JS = "(e) => { e.preventDefault(); e.currentTarget.classList.add('drop-ready'); }"
LEAVE_JS = "(e) => e.currentTarget.classList.remove('drop-ready')"


class BoardTargets:
    """`chosen()` is the selection in grid order; `on_added()` runs after a multi-select add (clears the selection).
    Every add goes through the service, which checks the board is one the viewer may change, and the images theirs."""

    def __init__(self, ctx: PageContext, *, chosen: Callable[[], list[int]], on_added: Callable[[], None]) -> None:
        self.ctx = ctx
        self.chosen = chosen
        self.on_added = on_added
        self.boards: list[BoardInfo] = []
        self.dragged: list[int] = []  # what this tab is dragging: set on dragstart, taken by a drop

    def build_choice(self) -> None:
        """The selection bar's part: which board, and the button."""
        self.choice = ui.select({}, label='Board').props('outlined dense').classes('w-48').mark('board-choice')
        ui.button('Add to board', icon='dashboard_customize', on_click=self.add_selected).props('no-caps').mark(
            'add-to-board')

    def build_chips(self) -> None:
        """The row of drop targets (filled by `load`; hidden while there is no board to add to)."""
        ui.add_css(DROP_CSS)
        self.chips = ui.row().classes('w-full items-center gap-1').mark('board-targets')
        self.chips.set_visibility(False)

    async def load(self) -> None:
        self.boards = [b for b in await self.ctx.services.library.boards.visible_to(self.ctx.user.id) if b.can_edit]
        self.choice.set_options({b.id: b.name for b in self.boards})
        if self.boards and self.choice.value is None:
            self.choice.value = self.boards[0].id
        self.chips.clear()
        with self.chips:
            ui.label('Drag images onto a board:').classes('text-sm opacity-70')
            for board in self.boards:
                ui.chip(board.name, icon='dashboard').props('outline').classes('board-target').on(
                    'dragover', js_handler=OVER_JS).on('dragleave', js_handler=LEAVE_JS).on(
                    'drop', lambda b=board.id: self.drop(b), js_handler=DROP_JS).tooltip(
                    'Drop a tile here to add it (with the rest of the selection, if it is selected)').mark(
                    f'board-target-{board.id}')
        self.chips.set_visibility(bool(self.boards))

    def drag_start(self, image_id: int) -> None:
        """A tile's dragstart: a selected tile carries the whole selection, any other tile itself."""
        chosen = self.chosen()
        self.dragged = chosen if image_id in chosen else [image_id]

    def drop(self, board_id: int) -> Awaitable[bool] | None:
        """Takes what is dragged at once (before the next event can change it); NiceGUI awaits the add."""
        ids, self.dragged = self.dragged, []
        return self.add(board_id, ids) if ids else None

    async def add_selected(self) -> None:
        ids = self.chosen()
        if not ids:
            notify_error('Select images first: tick the box on each one.')
            return
        if not self.choice.value:
            notify_error('Make a board first (Boards in the menu), then add images to it.')
            return
        if await self.add(int(self.choice.value), ids):
            self.on_added()

    async def add(self, board_id: int, ids: list[int]) -> bool:
        try:
            added = await self.ctx.services.library.boards.add_images(self.ctx.user.id, board_id, ids)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return False
        name = next((b.name for b in self.boards if b.id == board_id), 'the board')
        if added:
            ui.notify(f'Added {len(added)} image{"s" if len(added) != 1 else ""} to {name}.', type='positive')
        else:
            ui.notify(f'{"That image is" if len(ids) == 1 else "Those images are"} already on {name}.')
        return True
