"""The profile page: who you are, your usage this month, your API tokens, webhooks, and signing out (here or
everywhere)."""

from __future__ import annotations

from nicegui import ui

from nanogen.accounts.tokens import NewToken, TokenInfo
from nanogen.errors import NanogenError
from nanogen.ops.usage import MonthlyUsage

from ._format import money, when
from ._webhooks_card import WebhookPanel
from .frame import PageContext, frame, guarded_page, notify_error

SCOPE_LABELS = {'read': 'Read: list and download only', 'generate': 'Generate: read, generate and delete',
                'admin': 'Admin: everything, with admin rights'}


def _days(value: object) -> int | None:
    """The expiry field: empty means no expiry; anything else must be a whole number (checked by the service)."""
    if value in (None, ''):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1
    return int(number) if number == int(number) else -1


def identity_card(ctx: PageContext) -> None:
    with ui.card().classes('w-full max-w-3xl'):
        with ui.row().classes('items-center gap-4'):
            if ctx.user.avatar_url:
                ui.image(ctx.user.avatar_url).classes('w-16 h-16 rounded-full')
            else:
                ui.avatar(ctx.user.name[:1].upper() or '?', size='xl')
            with ui.column().classes('gap-0'):
                ui.label(ctx.user.name).classes('text-xl font-semibold').mark('profile-name')
                ui.label(ctx.user.email).classes('opacity-70').mark('profile-email')
                if ctx.user.is_admin:
                    ui.badge('Admin', color='secondary').classes('mt-1')


def usage_card(usage: MonthlyUsage) -> None:
    with ui.card().classes('w-full max-w-3xl'):
        ui.label(f'This month (since {usage.month_start:%B 1})').classes('text-lg font-semibold')
        with ui.row().classes('gap-8'):
            with ui.column().classes('gap-0'):
                ui.label(str(usage.generations)).classes('text-3xl font-bold').mark('usage-count')
                ui.label(f'generations ({usage.completed} completed)').classes('text-sm opacity-70')
            with ui.column().classes('gap-0'):
                ui.label(money(usage.spend)).classes('text-3xl font-bold').mark('usage-spend')
                ui.label('spent').classes('text-sm opacity-70')


class TokenPanel:
    """The API tokens card: create (shown once), list, revoke."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.uid = ctx.user.id
        self.tokens = ctx.services.tokens

    async def build(self) -> None:
        with ui.card().classes('w-full max-w-3xl gap-3'):
            ui.label('API tokens').classes('text-lg font-semibold')
            ui.label('Send a token as "Authorization: Bearer <token>" to use the API (/api/v1) from scripts. '
                     'It is shown once, when you create it.').classes('text-sm opacity-70')
            with ui.row().classes('w-full items-start gap-2'):
                self.name = ui.input('Name', placeholder='laptop script').props(
                    'outlined dense maxlength=100').classes('grow').mark('token-name')
                self.days = ui.input('Expires after (days)', placeholder='never').props(
                    'outlined dense inputmode=numeric').classes('w-48').mark('token-days')
                scopes = dict(SCOPE_LABELS) if self.ctx.user.is_admin else {
                    k: v for k, v in SCOPE_LABELS.items() if k != 'admin'}
                self.scope = ui.select(scopes, value='read', label='Scope').props('outlined dense').classes(
                    'w-56').mark('token-scope')
                create = ui.button('Create token', icon='key').mark('create-token')
            self.message = ui.label().classes('text-negative').mark('token-error')
            create.on_click(self.create_token)
            await self.token_list()

    @ui.refreshable_method
    async def token_list(self) -> None:
        rows = await self.tokens.list(self.uid)
        if not rows:
            ui.label('No tokens yet.').classes('opacity-70').mark('no-tokens')
            return
        for info in rows:
            self.token_row(info)

    def token_row(self, info: TokenInfo) -> None:
        with ui.row().classes('w-full items-center gap-3 border-b py-1').mark(f'token-{info.id}'):
            with ui.column().classes('gap-0 grow'):
                ui.label(info.name).classes('font-medium')
                ui.label(f'{info.prefix}…').classes('font-mono text-xs opacity-70')
            ui.badge(info.scope, color='secondary' if info.scope == 'read' else 'primary').tooltip(
                SCOPE_LABELS.get(info.scope, info.scope)).mark(f'token-scope-{info.id}')
            used = when(info.last_used_at) if info.last_used_at else 'never used'
            ui.label(f'Last used: {used}').classes('text-sm')
            if info.expires_at is None:
                expiry = 'No expiry'
            else:
                expiry = f'{"Expired" if info.expired else "Expires"} {when(info.expires_at)}'
            ui.label(expiry).classes('text-sm text-negative' if info.expired else 'text-sm')
            ui.button('Revoke', icon='block', on_click=lambda i=info: self.revoke(i)).props(
                'flat dense color=negative').mark(f'revoke-{info.id}')

    async def revoke(self, info: TokenInfo) -> None:
        try:
            await self.tokens.revoke(self.uid, info.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
        else:
            ui.notify(f'Token "{info.name}" revoked: scripts using it are refused from now on.')
        self.token_list.refresh()

    async def create_token(self) -> None:
        self.message.text = ''
        try:
            new = await self.tokens.create(self.uid, self.name.value or '', expires_in_days=_days(self.days.value),
                                           scope=str(self.scope.value or 'read'))
        except NanogenError as exc:
            self.message.text = exc.user_message
            return
        self.name.value, self.days.value = '', ''
        show_once(new)
        self.token_list.refresh()


def sessions_card(ctx: PageContext) -> None:
    with ui.card().classes('w-full max-w-3xl gap-2'):
        ui.label('Sessions').classes('text-lg font-semibold')
        with ui.row().classes('gap-2'):
            ui.button('Sign out', icon='logout', on_click=lambda: ui.navigate.to('/auth/logout')).props(
                'outline').mark('sign-out')

            async def sign_out_everywhere() -> None:
                await ctx.services.users.sign_out_everywhere(ctx.user.id)
                ui.navigate.to('/auth/logout')
            ui.button('Sign out everywhere', icon='devices', on_click=sign_out_everywhere).props(
                'outline color=negative').mark('sign-out-everywhere').tooltip(
                'Ends every session of yours, on every browser and device (API tokens keep working).')


@guarded_page('/profile', title='Profile', nav='Profile', icon='person')
async def profile_page(ctx: PageContext) -> None:
    with frame(ctx, 'Profile'):
        identity_card(ctx)
        usage_card(await ctx.services.usage.monthly(ctx.user.id))
        await TokenPanel(ctx).build()
        if ctx.services.webhooks is not None:
            await WebhookPanel(ctx, ctx.services.webhooks).build()
        sessions_card(ctx)


def show_once(new: NewToken) -> None:
    """The token's only appearance: it is not stored, so closing this dialog loses it for good."""
    with ui.dialog().props('persistent') as dialog, ui.card().classes('gap-3 max-w-xl'):
        ui.label(f'Your new token "{new.info.name}"').classes('text-lg font-semibold')
        ui.label('Copy it now: it will not be shown again.').classes('text-sm')
        ui.input(value=new.secret).props('readonly outlined dense').classes('w-full font-mono').mark('new-token')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Copy', icon='content_copy', on_click=lambda: (
                ui.clipboard.write(new.secret), ui.notify('Copied'))).mark('copy-token')
            ui.button('Done', on_click=lambda: (dialog.close(), dialog.delete())).props('flat').mark('close-token')
    dialog.open()
