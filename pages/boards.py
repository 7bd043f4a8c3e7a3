"""Boards (issue 16): the list of your boards and those shared with you, one board's page (the gallery's grid,
search, lightbox and zip over its images; sharing for its owner), and the public page behind a board link."""

from __future__ import annotations

from datetime import timedelta

from nicegui import ui

from nanogen.errors import NanogenError, NotFound
from nanogen.generation.requests import parse_id
from nanogen.library.boards import LINK_GONE, BoardInfo
from nanogen.library.queries import ImageQuery

from ._text import set_attr
from .frame import PageContext, frame, guarded_page, notify_error, services
from .gallery import GalleryView
from .gallery_lightbox import EXPIRY_CHOICES

ROLE_TEXT = {'owner': 'Yours', 'admin': 'Shared with you (admin)', 'editor': 'Shared with you (editor)',
             'member': 'Shared with you (view only)'}


def _board_card(board: BoardInfo) -> None:
    with ui.card().classes('w-72 cursor-pointer').on('click', lambda b=board.id: ui.navigate.to(f'/boards/{b}')).mark(
            f'board-{board.id}'):
        if board.cover_image_id:
            set_attr(ui.image(f'/files/{board.cover_image_id}/thumb').props('fit=cover'), 'alt', board.name).classes(
                'w-full h-32')
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


async def _owner_controls(ctx: PageContext, board: BoardInfo) -> None:
    groups = await ctx.services.groups.groups_of(ctx.user.id)
    with ui.expansion('Share', icon='group').classes('w-full').mark('board-share'):
        with ui.row().classes('items-end gap-2'):
            choice = ui.select({0: 'Private (only you)', **{g.id: g.name for g in groups}},
                               value=board.group_id or 0, label='Shared with').props('outlined dense').classes(
                'w-64').mark('share-group')

            async def share() -> None:
                try:
                    await ctx.services.library.boards.share_with_group(ctx.user.id, board.id,
                                                                       int(choice.value) or None)
                except NanogenError as exc:
                    notify_error(exc.user_message)
                    return
                ui.notify('Sharing saved.', type='positive')
            ui.button('Save', on_click=share).props('no-caps').mark('save-share')
        with ui.row().classes('items-end gap-2'):
            expiry = ui.select(EXPIRY_CHOICES, value=7).props('outlined dense').classes('w-48').mark('link-expiry')
            link_box = ui.input('Public link').props('readonly outlined dense').classes('w-96').mark('board-link')

            async def make_link() -> None:
                days = int(expiry.value)
                try:
                    link = await ctx.services.library.boards.create_link(
                        ctx.user.id, board.id, expires_in=timedelta(days=days) if days else None)
                except NanogenError as exc:
                    notify_error(exc.user_message)
                    return
                base = ctx.services.settings.public_url or str(ctx.request.base_url).rstrip('/')
                link_box.value = base + link.path
                ui.notify('Public link created: anyone with it can see this board.', type='positive')
            ui.button('Create public link', icon='link', on_click=make_link).props('no-caps').mark('make-link')

        async def delete() -> None:
            try:
                await ctx.services.library.boards.delete(ctx.user.id, board.id)
            except NanogenError as exc:
                notify_error(exc.user_message)
                return
            ui.navigate.to('/boards')
        ui.button('Delete board', icon='delete', on_click=delete).props('flat no-caps color=negative').mark(
            'delete-board')


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
    view = GalleryView(ctx, board=board)
    with frame(ctx, 'Board'):
        ui.label(board.name).classes('text-2xl font-semibold break-words').mark('board-title')
        if board.description:
            ui.label(board.description).classes('opacity-70 break-words').mark('board-about')
        ui.label(ROLE_TEXT[board.role] + (f' · shared with {board.group_name}' if board.group_name else '')).classes(
            'text-sm opacity-60').mark('board-role')
        if board.is_owner:
            await _owner_controls(ctx, board)
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
    # Public on purpose (auth.PUBLIC_PREFIXES has '/b/'): the random token is the only key, checked on every view.
    try:
        board, page = await services().library.linked_board_images(token, ImageQuery(), limit=200)
    except NotFound:
        with frame(None, ''):
            with ui.column().classes('w-full items-center text-center gap-4 py-16'):
                ui.icon('link_off', size='64px').classes('opacity-50')
                ui.label(LINK_GONE).classes('text-2xl').mark('board-link-gone')
        return
    with frame(None, 'Shared board'):
        ui.label(board.name).classes('text-2xl font-semibold break-words').mark('board-title')
        if board.description:
            ui.label(board.description).classes('opacity-70 break-words')
        with ui.element('div').classes('w-full grid gap-2 grid-cols-2 sm:grid-cols-3 md:grid-cols-4 lg:grid-cols-6'):
            for row in page.items:
                with ui.link(target=f'/b/{token}/files/{row.id}/image', new_tab=True):
                    set_attr(ui.image(f'/b/{token}/files/{row.id}/thumb').props('fit=cover'), 'alt',
                             row.prompt).classes('w-full aspect-square').mark(f'linked-{row.id}')
