"""One board's page above its grid (issue 16): the header (cover, name, description, who you are here) for everyone
who may see it, and for its owner: edit, cover, sharing with a group, public links (listed, revocable) and delete.
Each action asks the service, which checks again who is asking: the page only decides what to offer."""

from __future__ import annotations

from datetime import datetime, timedelta

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.library.board_access import MAX_DESCRIPTION, MAX_NAME
from nanogen.library.boards import BoardInfo, BoardLinkRow

from ._text import set_attr
from .frame import PageContext, notify_error
from .gallery_lightbox import EXPIRY_CHOICES

ROLE_TEXT = {'owner': 'Yours', 'admin': 'Shared with you (admin)', 'editor': 'Shared with you (editor)',
             'member': 'Shared with you (view only)'}
STATE_TEXT = {'live': 'Works', 'expired': 'Expired', 'revoked': 'Revoked'}


def when(moment: datetime) -> str:
    return f'{moment:%Y-%m-%d %H:%M} UTC'


def role_line(board: BoardInfo) -> str:
    return ROLE_TEXT[board.role] + (f' · shared with {board.group_name}' if board.group_name else '')


class BoardControls:
    """Built once per tab from the board as the page found it; `refresh()` reads it again after a change."""

    def __init__(self, ctx: PageContext, board: BoardInfo) -> None:
        self.ctx = ctx
        self.board = board
        self.boards = ctx.services.library.boards
        self.newest_button: ui.button | None = None  # the owner's "Cover: newest image", while a cover is chosen

    # ------------------------------------------------------------------ header (everyone who may see the board)
    def header(self) -> None:
        with ui.row().classes('w-full items-center gap-4 no-wrap'):
            self.cover = ui.image().props('fit=cover').classes('w-24 h-24 rounded shrink-0').mark('board-cover')
            with ui.column().classes('gap-1 min-w-0'):
                self.title = ui.label().classes('text-2xl font-semibold break-words').mark('board-title')
                self.about = ui.label().classes('opacity-70 break-words whitespace-pre-wrap').mark('board-about')
                self.role = ui.label().classes('text-sm opacity-60').mark('board-role')
        self.show(self.board)

    def show(self, board: BoardInfo) -> None:
        self.board = board
        self.title.text, self.about.text, self.role.text = board.name, board.description, role_line(board)
        self.about.set_visibility(bool(board.description))
        if board.cover_image_id is not None:
            self.cover.set_source(f'/files/{board.cover_image_id}/thumb')
            set_attr(self.cover, 'alt', f'Cover of {board.name}')
        self.cover.set_visibility(board.cover_image_id is not None)
        if self.newest_button is not None:
            self.newest_button.set_visibility(board.cover_chosen)

    async def refresh(self) -> None:
        try:
            self.show(await self.boards.get(self.ctx.user.id, self.board.id))
        except NanogenError as exc:  # deleted or unshared meanwhile
            notify_error(exc.user_message)

    async def set_cover(self, image_id: int) -> None:
        try:
            self.show(await self.boards.update(self.ctx.user.id, self.board.id, cover_image_id=image_id))
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Cover set: the boards list shows this image.', type='positive')

    # ------------------------------------------------------------------ the owner's panel
    async def owner_panel(self) -> None:
        with ui.expansion('Edit', icon='edit').classes('w-full').mark('board-edit'):
            self.edit_form()
        with ui.expansion('Share', icon='group').classes('w-full').mark('board-share'):
            await self.share_form()
            ui.separator()
            self.link_form()
            self.links = ui.column().classes('w-full gap-1').mark('board-links')
        await self.render_links()
        ui.button('Delete board', icon='delete', on_click=self.delete).props('flat no-caps color=negative').mark(
            'delete-board')

    def edit_form(self) -> None:
        # The name and description go in as values, never into a props string: they are shown as typed.
        self.name_box = set_attr(ui.input('Name', value=self.board.name).props('outlined dense'), 'maxlength',
                                 MAX_NAME).classes('w-96').mark('edit-name')
        self.about_box = set_attr(ui.textarea('Description', value=self.board.description).props(
            'outlined dense autogrow'), 'maxlength', MAX_DESCRIPTION).classes('w-96').mark('edit-description')
        self.edit_error = ui.label().classes('text-negative text-sm').mark('edit-error')
        with ui.row().classes('gap-2'):
            ui.button('Save name and description', icon='save', on_click=self.save).props('no-caps').mark('save-board')
            self.newest_button = ui.button('Cover: newest image', icon='history', on_click=self.newest_cover).props(
                'flat no-caps').tooltip('Stop using the chosen cover; show the newest image').mark('newest-cover')
        self.newest_button.set_visibility(self.board.cover_chosen)

    async def save(self) -> None:
        self.edit_error.text = ''
        try:
            board = await self.boards.update(self.ctx.user.id, self.board.id, name=self.name_box.value or '',
                                             description=self.about_box.value or '')
        except NanogenError as exc:
            self.edit_error.text = exc.user_message
            notify_error(exc.user_message)
            return
        self.show(board)
        self.name_box.value, self.about_box.value = board.name, board.description
        ui.notify('Board saved.', type='positive')

    async def newest_cover(self) -> None:
        try:
            self.show(await self.boards.update(self.ctx.user.id, self.board.id, clear_cover=True))
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('The cover is the newest image again.', type='positive')

    async def share_form(self) -> None:
        groups = await self.ctx.services.groups.groups_of(self.ctx.user.id)
        with ui.row().classes('items-end gap-2'):
            choice = ui.select({0: 'Private (only you)', **{g.id: g.name for g in groups}},
                               value=self.board.group_id or 0, label='Shared with').props('outlined dense').classes(
                'w-64').mark('share-group')

            async def share() -> None:
                try:
                    self.show(await self.boards.share_with_group(self.ctx.user.id, self.board.id,
                                                                 int(choice.value) or None))
                except NanogenError as exc:
                    notify_error(exc.user_message)
                    return
                ui.notify('Sharing saved.', type='positive')
            ui.button('Save sharing', on_click=share).props('no-caps').mark('save-share')

    # ------------------------------------------------------------------ public links
    def link_form(self) -> None:
        with ui.row().classes('items-end gap-2'):
            self.expiry = ui.select(EXPIRY_CHOICES, value=7).props('outlined dense').classes('w-48').mark(
                'link-expiry')
            self.link_box = ui.input('Public link').props('readonly outlined dense').classes('w-96').mark('board-link')
            ui.button('Create public link', icon='link', on_click=self.make_link).props('no-caps').mark('make-link')
        ui.label('The link is shown once, now; below, every link of this board and whether it still works.').classes(
            'text-xs opacity-60')

    async def make_link(self) -> None:
        days = int(self.expiry.value)
        try:
            link = await self.boards.create_link(self.ctx.user.id, self.board.id,
                                                 expires_in=timedelta(days=days) if days else None)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        base = self.ctx.services.settings.public_url or str(self.ctx.request.base_url).rstrip('/')
        self.link_box.value = base + link.path
        ui.notify('Public link created: anyone with it can see this board.', type='positive')
        await self.render_links()

    async def render_links(self) -> None:
        try:
            links = await self.boards.links_of(self.ctx.user.id, self.board.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        if self.links.is_deleted:
            return
        now = self.boards.clock()  # the service's clock, which decides whether a link works
        self.links.clear()
        with self.links:
            if not links:
                ui.label('No public links yet.').classes('text-sm opacity-60').mark('no-links')
            for link in links:
                self.link_row(link, link.state(now))

    def link_row(self, link: BoardLinkRow, state: str) -> None:
        expires = f'expires {when(link.expires_at)}' if link.expires_at else 'never expires'
        with ui.row().classes('w-full items-center gap-2').mark(f'link-row-{link.id}'):
            ui.badge(STATE_TEXT[state], color='positive' if state == 'live' else 'grey').mark(f'link-state-{link.id}')
            ui.label(f'Created {when(link.created_at)} · {expires}').classes('text-sm')
            if state == 'live':
                ui.button('Revoke', icon='link_off', on_click=lambda: self.revoke(link.id)).props(
                    'flat dense no-caps color=negative').mark(f'revoke-link-{link.id}')

    async def revoke(self, link_id: int) -> None:
        try:
            await self.boards.revoke_link(self.ctx.user.id, self.board.id, link_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Link revoked: it no longer works.', type='positive')
        await self.render_links()

    async def delete(self) -> None:
        try:
            await self.boards.delete(self.ctx.user.id, self.board.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.navigate.to('/boards')
