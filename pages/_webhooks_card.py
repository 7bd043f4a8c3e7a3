"""The profile's Webhooks card: add a URL for your events (its signing secret shown once), turn it off/on, send a
test, delete, and each webhook's delivery history with "Redeliver" for a failed delivery. A webhook the app turned
off (its deliveries kept failing) says why."""

from __future__ import annotations

from nicegui import ui

from nanogen.errors import NanogenError
from nanogen.webhooks import EVENTS, DeliveryInfo, NewWebhook, WebhookInfo, WebhookService

from ._format import when
from .frame import PageContext, notify_error

EVENT_LABELS = {'generation.completed': 'Generation completed', 'generation.failed': 'Generation failed',
                'batch.completed': 'Batch finished'}
COLUMNS = [{'name': 'event', 'label': 'Event', 'field': 'event', 'align': 'left'},
           {'name': 'state', 'label': 'Status', 'field': 'state', 'align': 'left'},
           {'name': 'attempts', 'label': 'Attempts', 'field': 'attempts'},
           {'name': 'code', 'label': 'Last code', 'field': 'code'},
           {'name': 'error', 'label': 'Last error', 'field': 'error', 'align': 'left'},
           {'name': 'at', 'label': 'Queued', 'field': 'at', 'align': 'left'}]


class WebhookPanel:
    def __init__(self, ctx: PageContext, hooks: WebhookService) -> None:
        self.uid = ctx.user.id
        self.hooks = hooks

    async def build(self) -> None:
        with ui.card().classes('w-full max-w-3xl gap-3').mark('webhooks-card'):
            ui.label('Webhooks').classes('text-lg font-semibold')
            ui.label('nanogen POSTs a signed event to these URLs when a generation completes or fails, or a batch '
                     'finishes (see the X-Nanogen-Signature header). Only hosts an admin allows can be used.'
                     ).classes('text-sm opacity-70')
            with ui.row().classes('w-full items-start gap-2'):
                self.url = ui.input('URL', placeholder='https://hooks.example.com/nanogen').props(
                    'outlined dense maxlength=2000').classes('grow').mark('webhook-url')
                self.events = ui.select(EVENT_LABELS, value=list(EVENTS), multiple=True, label='Events').props(
                    'outlined dense use-chips').classes('w-72').mark('webhook-events')
                ui.button('Add webhook', icon='webhook', on_click=self.add).mark('add-webhook')
            self.message = ui.label().classes('text-negative').mark('webhook-error')
            await self.webhook_list()

    @ui.refreshable_method
    async def webhook_list(self) -> None:
        rows = await self.hooks.endpoints(self.uid)
        if not rows:
            ui.label('No webhooks yet.').classes('opacity-70').mark('no-webhooks')
            return
        for info in rows:
            await self.webhook_row(info)

    async def webhook_row(self, info: WebhookInfo) -> None:
        with ui.column().classes('w-full gap-1 border-b pb-2').mark(f'webhook-{info.id}'):
            with ui.row().classes('w-full items-center gap-3'):
                with ui.column().classes('gap-0 grow min-w-0'):
                    ui.label(info.url).classes('font-medium break-all')
                    scope = f'batch {info.batch_id}' if info.batch_id is not None else 'every event of your account'
                    ui.label(f'{", ".join(EVENT_LABELS.get(e, e) for e in info.events)} · {scope} · secret '
                             f'{info.secret_hint}').classes('text-xs opacity-70')
                    if info.disabled_reason:
                        ui.label(info.disabled_reason).classes('text-xs text-negative').mark(
                            f'webhook-off-reason-{info.id}')
                ui.switch('On', value=info.active, on_change=lambda e, i=info: self.switch(i, bool(e.value))).mark(
                    f'webhook-active-{info.id}')
                ui.button('Send test', icon='send', on_click=lambda i=info: self.ping(i)).props(
                    'flat dense').mark(f'ping-webhook-{info.id}')
                ui.button('Delete', icon='delete', on_click=lambda i=info: self.delete(i)).props(
                    'flat dense color=negative').mark(f'delete-webhook-{info.id}')
            with ui.expansion('Delivery history', icon='history').classes('w-full').mark(f'history-{info.id}'):
                await self.history(info.id)

    async def history(self, endpoint_id: int) -> None:
        @ui.refreshable
        async def table() -> None:
            found = await self.hooks.deliveries(self.uid, endpoint_id, limit=20)
            if not found:
                ui.label('Nothing sent yet.').classes('text-sm opacity-70')
            else:
                ui.table(columns=COLUMNS, rows=[self._row(d) for d in found], row_key='id').props(
                    'dense flat').classes('w-full').mark(f'deliveries-{endpoint_id}')
                for d in found:
                    if d.state == 'failed':
                        ui.button(f'Redeliver {EVENT_LABELS.get(d.event, d.event)} #{d.id}', icon='replay',
                                  on_click=lambda d=d: self.redeliver(d, table.refresh)).props(
                            'flat dense').mark(f'redeliver-{d.id}')
            ui.button('Refresh', icon='refresh', on_click=table.refresh).props('flat dense').mark(
                f'refresh-deliveries-{endpoint_id}')
        await table()

    @staticmethod
    def _row(d: DeliveryInfo) -> dict[str, object]:
        return {'id': d.id, 'event': EVENT_LABELS.get(d.event, d.event), 'state': d.state, 'attempts': d.attempts,
                'code': '' if d.last_status is None else d.last_status, 'error': d.last_error or '',
                'at': when(d.created_at)}

    async def add(self) -> None:
        self.message.text = ''
        try:
            new = await self.hooks.register(self.uid, str(self.url.value or ''), list(self.events.value or []))
        except NanogenError as exc:
            self.message.text = exc.user_message
            return
        self.url.value = ''
        show_secret_once(new)
        self.webhook_list.refresh()

    async def ping(self, info: WebhookInfo) -> None:
        try:
            await self.hooks.ping(self.uid, info.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Test event queued: see its delivery history.')
        self.webhook_list.refresh()

    async def switch(self, info: WebhookInfo, active: bool) -> None:
        if active == info.active:
            return
        try:
            await self.hooks.set_active(self.uid, info.id, active)
        except NanogenError as exc:
            notify_error(exc.user_message)
        else:
            ui.notify('Webhook on: waiting events go out now.' if active else
                      'Webhook off: nothing is sent to it until you turn it on.')
        self.webhook_list.refresh()

    async def delete(self, info: WebhookInfo) -> None:
        try:
            await self.hooks.delete(self.uid, info.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
        else:
            ui.notify('Webhook deleted: no more events go to it.')
        self.webhook_list.refresh()

    async def redeliver(self, d: DeliveryInfo, refresh: object) -> None:
        try:
            await self.hooks.redeliver(self.uid, d.id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify('Sending it again.')
        if callable(refresh):
            refresh()


def show_secret_once(new: NewWebhook) -> None:
    """The secret's only appearance on a page (the API shows it once too): the receiver needs it to verify."""
    with ui.dialog().props('persistent') as dialog, ui.card().classes('gap-3 max-w-xl'):
        ui.label('Your webhook\'s signing secret').classes('text-lg font-semibold')
        ui.label('Copy it now into your receiver: it will not be shown again.').classes('text-sm')
        ui.input(value=new.secret).props('readonly outlined dense').classes('w-full font-mono').mark(
            'new-webhook-secret')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Copy', icon='content_copy', on_click=lambda: (
                ui.clipboard.write(new.secret), ui.notify('Copied'))).mark('copy-webhook-secret')
            ui.button('Done', on_click=lambda: (dialog.close(), dialog.delete())).props('flat').mark(
                'close-webhook-secret')
    dialog.open()
