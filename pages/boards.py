"""Boards (issue 16): the list of your boards and those shared with you, one board's page (the gallery's grid,
search, lightbox and zip over its images; editing, cover, sharing and links for its owner), and the public page
behind a board link."""

from __future__ import annotations

from nicegui import ui

from nanogen.errors import NanogenError, NotFound
from nanogen.generation.requests import parse_id
from nanogen.library.boards import BoardInfo

from ._board_controls import ROLE_TEXT, BoardControls
from ._board_public import linked_board
from ._text import set_attr
from .frame import PageContext, frame, guarded_page, notify_error
from .gallery import GalleryView


def _board_card(board: BoardInfo) -> None:
    with ui.card().classes('w-72 cursor-pointer').on('click', lambda b=board.id: ui.navigate.to(f'/boards/{b}')).mark(
            f'board-{board.id}'):
        if board.cover_image_id:  # the owner's choice, else the board's newest image
            set_attr(ui.image(f'/files/{board.cover_image_id}/thumb').props('fit=cover'), 'alt', board.name).classes(
                'w-full h-32').mark(f'board-card-cover-{board.id}')
        ui.label(board.name).classes('text-lg font-semibold break-words').mark(f'board-name-{board.id}')
        if board.description:
            ui.label(board.description).classes('text-sm opacity-70 break-words')
        shared = f' · {board.group_name}' if board.group_name else ''
        ui.label(f'{board.image_count} image{"s" if board.image_count != 1 else ""} · {ROLE_TEXT[board.role]}'
                 f'{shared}').classes('text-xs opacity-60')


@guarded_page('/boards', title='Boards', nav='Boards', icon='dashboard')
async def boards_page(ctx: PageContext) -> None:
    with frame(ctx, 'Boards'):
        with ui.row().classes('w-full items-end gap-2'):
            name = ui.input('New board name').props('outlined dense maxlength=100').classes('w-64').mark('board-name')
            description = ui.input('Description (optional)').props('outlined dense').classes('w-96').mark(
                'board-description')

            async def create() -> None:
                try:
                    board = await ctx.services.library.boards.create(ctx.user.id, name.value or '',
                                                                     description.value or '')
                except NanogenError as exc:
                    notify_error(exc.user_message)
                    return
                ui.navigate.to(f'/boards/{board.id}')
            ui.button('Create board', icon='add', on_click=create).props('no-caps').mark('create-board')
        boards = await ctx.services.library.boards.visible_to(ctx.user.id)
        if not boards:
            ui.label('No boards yet: make one, then add images to it from the gallery.').classes(
                'opacity-70 py-8').mark('no-boards')
        with ui.row().classes('w-full gap-3 flex-wrap'):
            for board in boards:
                _board_card(board)


@guarded_page('/boards/{board_id}', title='Board')
async def board_page(ctx: PageContext, board_id: str) -> None:
    board_number = parse_id(board_id)
    try:
        if board_number is None:
            raise NotFound('That board does not exist.')
        board = await ctx.services.library.boards.get(ctx.user.id, board_number)
    except NanogenError as exc:
        with frame(ctx, 'Board'):
            ui.label(exc.user_message).classes('text-lg py-8').mark('board-missing')
            ui.button('All boards', on_click=lambda: ui.navigate.to('/boards')).props('flat no-caps')
        return
    controls = BoardControls(ctx, board)
    view = GalleryView(ctx, board=board, on_cover=controls.set_cover if board.is_owner else None,
                       on_board_changed=controls.refresh)
    with frame(ctx, 'Board'):
        controls.header()
        if board.is_owner:
            await controls.owner_panel()
        view.build()
    await view.reload()
    await view.extra.load()


@guarded_page('/team', title='Team', nav='Team', icon='groups')
async def team_page(ctx: PageContext) -> None:
    """Images on boards shared with the viewer's groups, with the gallery's search, filters and lightbox."""
    view = GalleryView(ctx, team=True)
    with frame(ctx, 'Team'):
        view.build()
    await view.reload()
    await view.extra.load()


@ui.page('/b/{token}', title='Shared board · nanogen')
async def linked_board_page(token: str) -> None:
    # Public on purpose (auth.PUBLIC_PREFIXES has '/b/'): the random token is the only key, checked on every view
    # and on every action of the page (pages/_board_public.py).
    await linked_board(token)
