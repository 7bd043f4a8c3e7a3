"""Batches (issue 17): the list of your batches and one batch's page: progress (done / running / failed / queued),
each row's status live in one table updated in place, pause / resume / cancel / retry failed, the zip with
metadata.csv, putting its images on a board, and a webhook for this batch only (its rows' events and its end)."""

from __future__ import annotations

from nicegui import ui

from nanogen.batches.export import put_on_board
from nanogen.batches.service import BatchService, BatchView
from nanogen.errors import NanogenError, NotFound
from nanogen.events import PromptEvent
from nanogen.generation.requests import parse_id
from nanogen.webhooks import EVENTS

from ._format import money
from ._live import on_prompt_events
from ._webhooks_card import show_secret_once
from .frame import PageContext, frame, guarded_page, notify_error

ROW_COLUMNS = [
    {'name': 'row', 'label': 'Row', 'field': 'row', 'align': 'right', 'sortable': True},
    {'name': 'prompt', 'label': 'Prompt', 'field': 'prompt', 'align': 'left', 'classes': 'max-w-[360px] truncate'},
    {'name': 'model', 'label': 'Model', 'field': 'model', 'align': 'left'},
    {'name': 'size', 'label': 'Size', 'field': 'size', 'align': 'left'},
    {'name': 'status', 'label': 'Status', 'field': 'status', 'align': 'left', 'sortable': True},
    {'name': 'cost', 'label': 'Cost', 'field': 'cost', 'align': 'right'},
    {'name': 'error', 'label': 'Error', 'field': 'error', 'align': 'left', 'classes': 'max-w-[260px] truncate'},
]
LIST_COLUMNS = [
    {'name': 'id', 'label': '#', 'field': 'id', 'align': 'right'},
    {'name': 'name', 'label': 'Name', 'field': 'name', 'align': 'left'},
    {'name': 'status', 'label': 'Status', 'field': 'status', 'align': 'left'},
    {'name': 'progress', 'label': 'Done / rows', 'field': 'progress', 'align': 'right'},
    {'name': 'cost', 'label': 'Cost', 'field': 'cost', 'align': 'right'},
    {'name': 'created', 'label': 'Created (UTC)', 'field': 'created', 'align': 'left'},
]


def counts_text(view: BatchView) -> str:
    c = view.counts
    return (f"{view.status.capitalize()} · {c['done']} done · {c['running']} running · {c['failed']} failed · "
            f"{c['queued']} queued" + (f" · {c['cancelled']} cancelled" if c['cancelled'] else '')
            + f' · {money(view.cost)} of {money(view.estimated_cost)} estimated')


def row_dicts(view: BatchView) -> list[dict[str, object]]:
    return [{'row': r.row_number, 'prompt': r.prompt, 'model': r.model, 'size': r.size, 'status': r.status,
             'cost': money(r.cost if r.status in ('COMPLETED', 'FAILED', 'CANCELLED') else r.estimated_cost),
             'error': r.error_message or ''} for r in view.rows]


@guarded_page('/batches', title='Batches', nav='Batches', icon='playlist_play')
async def batches_page(ctx: PageContext) -> None:
    batches = ctx.services.batches
    assert batches is not None
    views = await batches.list_batches(ctx.user.id, limit=100)
    with frame(ctx, 'Batches'):
        ui.label('Start a batch from the generator\'s Batch tab.').classes('text-sm opacity-70')
        if not views:
            ui.label('No batches yet.').classes('opacity-70 py-8').mark('no-batches')
            return
        table = ui.table(columns=LIST_COLUMNS, rows=[
            {'id': v.id, 'name': v.name, 'status': v.status.capitalize(),
             'progress': f"{v.counts['done']} / {v.total_rows}", 'cost': money(v.cost),
             'created': f'{v.created_at:%Y-%m-%d %H:%M}'} for v in views], row_key='id').classes('w-full').mark(
            'batch-list')
        table.on('rowClick', lambda e: ui.navigate.to(f'/batches/{int(e.args[1]["id"])}'))


class BatchPage:
    def __init__(self, ctx: PageContext, batches: BatchService, batch_id: int) -> None:
        self.ctx, self.batches, self.batch_id = ctx, batches, batch_id
        self.prompt_ids: set[int] = set()

    def build(self, view: BatchView) -> None:
        ui.label(view.name).classes('text-xl font-semibold break-words').mark('batch-title')
        self.counts = ui.label(counts_text(view)).mark('batch-counts')
        with ui.row().classes('items-center gap-2'):
            self.pause = ui.button('Pause', icon='pause', on_click=lambda: self.act(self.batches.pause)).props(
                'no-caps').mark('batch-pause')
            self.resume = ui.button('Resume', icon='play_arrow', on_click=lambda: self.act(self.batches.resume)).props(
                'no-caps').mark('batch-resume')
            self.cancel = ui.button('Cancel the rest', icon='cancel',
                                    on_click=lambda: self.act(self.batches.cancel)).props('no-caps flat').mark(
                'batch-cancel')
            self.retry = ui.button('Retry failed', icon='refresh',
                                   on_click=lambda: self.act(self.batches.retry_failed)).props('no-caps flat').mark(
                'batch-retry')
            ui.button('Download zip', icon='download',
                      on_click=lambda: ui.download(f'/api/v1/batches/{self.batch_id}/zip')).props(
                'no-caps flat').mark('batch-zip')
        with ui.row().classes('items-center gap-2'):
            self.board_choice = ui.select({}, label='Board').props('outlined dense').classes('w-64').mark(
                'batch-board-choice')
            ui.button('Put on board', icon='dashboard', on_click=self.to_board).props('no-caps flat').mark(
                'batch-to-board')
        if self.ctx.services.webhooks is not None:
            with ui.expansion('Webhook for this batch', icon='webhook').classes('w-full max-w-3xl'):
                ui.label('nanogen POSTs this batch\'s generation events and its end to the URL, signed like the '
                         'webhooks on your profile (where its delivery history is).').classes('text-sm opacity-70')
                with ui.row().classes('w-full items-start gap-2'):
                    self.hook_url = ui.input('URL', placeholder='https://hooks.example.com/nanogen').props(
                        'outlined dense maxlength=2000').classes('grow').mark('batch-webhook-url')
                    ui.button('Add webhook', icon='webhook', on_click=self.add_webhook).mark('batch-add-webhook')
        self.table = ui.table(columns=ROW_COLUMNS, rows=[], row_key='row', pagination=50).classes('w-full').mark(
            'batch-rows')
        self.show(view)

    async def load_boards(self) -> None:
        boards = await self.ctx.services.library.boards.visible_to(self.ctx.user.id)
        self.board_choice.options = {b.id: b.name for b in boards if b.can_edit}
        self.board_choice.update()

    def show(self, view: BatchView) -> None:
        self.prompt_ids = {r.prompt_id for r in view.rows}
        self.counts.text = counts_text(view)
        self.table.rows = row_dicts(view)  # one table, rows replaced in place: nothing rebuilt per row
        self.table.update()
        self.pause.set_visibility(view.status == 'RUNNING')
        self.resume.set_visibility(view.status == 'PAUSED')
        self.cancel.set_visibility(view.status in ('RUNNING', 'PAUSED'))
        self.retry.set_visibility(view.counts['failed'] > 0)

    async def refresh(self) -> None:
        self.show(await self.batches.get(self.ctx.user.id, self.batch_id))

    async def act(self, command: object) -> None:
        try:
            await command(self.ctx.user.id, self.batch_id)  # type: ignore[operator]
        except NanogenError as exc:
            notify_error(exc.user_message)
        await self.refresh()

    async def to_board(self) -> None:
        board_id = self.board_choice.value
        if not board_id:
            notify_error('Choose a board first (make one on the Boards page).')
            return
        try:
            added = await put_on_board(self.batches, self.ctx.services.library.boards, self.ctx.user.id,
                                       self.batch_id, int(board_id))
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.notify(f'Added {len(added)} images to the board.', type='positive')

    async def add_webhook(self) -> None:
        hooks = self.ctx.services.webhooks
        assert hooks is not None
        try:
            new = await hooks.register(self.ctx.user.id, str(self.hook_url.value or ''), list(EVENTS),
                                       batch_id=self.batch_id)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        self.hook_url.value = ''
        show_secret_once(new)

    async def on_events(self, events: list[PromptEvent]) -> None:
        # A row promoted by the feeder is already in the table (its prompt id is the row's); a retry makes new
        # prompt ids, so any event of this user re-reads the batch once per burst while it is not finished.
        if any(e.prompt_id in self.prompt_ids for e in events) or self.counts.text.startswith(('Running', 'Paused')):
            await self.refresh()


@guarded_page('/batches/{batch_id}', title='Batch')
async def batch_page(ctx: PageContext, batch_id: str) -> None:
    batches = ctx.services.batches
    assert batches is not None
    bid = parse_id(batch_id)
    try:
        if bid is None:
            raise NotFound('That batch does not exist.')
        view = await batches.get(ctx.user.id, bid)
    except NotFound:
        with frame(ctx, 'Batch'):
            ui.label('That batch does not exist.').mark('batch-missing')
        return
    page = BatchPage(ctx, batches, bid)
    with frame(ctx, 'Batch'):
        page.build(view)
    await page.load_boards()
    on_prompt_events(ctx.user.id, page.on_events)
