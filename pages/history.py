"""History: every prompt as a table, filtered, sorted and paged on the server, with retry and CSV export."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from nanogen.config import SIZES
from nanogen.errors import NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.catalogue import size_label
from nanogen.library.filters import history_query
from nanogen.models import Prompt, Status

from ._dates import iso_date
from ._format import duration, money, when
from ._live import on_prompt_events
from .frame import PageContext, frame, guarded_page, notify_error

PAGE_SIZE = 25
SORTS = {'newest': 'Newest first', 'oldest': 'Oldest first', 'cost': 'Most expensive', 'duration': 'Slowest'}
COLUMNS: list[dict[str, Any]] = [
    {'name': 'status', 'label': 'Status', 'field': 'status', 'align': 'left'},
    {'name': 'prompt', 'label': 'Prompt', 'field': 'prompt', 'align': 'left',
     'classes': 'max-w-[360px] truncate', 'headerClasses': 'max-w-[360px]'},
    {'name': 'size', 'label': 'Size', 'field': 'size', 'align': 'right'},
    {'name': 'cost', 'label': 'Cost', 'field': 'cost', 'align': 'right'},
    {'name': 'duration', 'label': 'Duration', 'field': 'duration', 'align': 'right'},
    {'name': 'error', 'label': 'Error', 'field': 'error', 'align': 'left', 'classes': 'max-w-[260px] truncate'},
    {'name': 'date', 'label': 'Date (UTC)', 'field': 'date', 'align': 'left'},
    {'name': 'actions', 'label': '', 'field': 'id'},
]
STATUS_SLOT = r'''
<q-td :props="props">
  <q-badge :color="{QUEUED:'blue-grey',PENDING:'grey',PROCESSING:'blue',COMPLETED:'positive',FAILED:'negative',
                    CANCELLED:'orange'}[props.value]"
           :label="props.value.charAt(0) + props.value.slice(1).toLowerCase()" />
</q-td>'''
ACTIONS_SLOT = r'''
<q-td :props="props">
  <q-btn v-if="props.row.retryable" flat dense no-caps icon="refresh" label="Retry"
         @click="() => $parent.$emit('retry', props.row.id)" />
  <q-btn v-if="props.row.image_id" flat dense no-caps icon="photo_library" label="Open"
         @click="() => $parent.$emit('open', props.row.image_id)" />
</q-td>'''

# Phones: a wide table hides its right-hand columns (cost, date, actions) with no visible scrollbar, so below the md
# breakpoint the table shows one card per prompt. Values are interpolated by Vue as text, never as HTML.
PHONE_CARD_SLOT = r'''
<div class="q-pa-xs col-12">
  <q-card flat bordered class="history-card">
    <q-card-section class="q-pa-sm">
      <div class="row items-center q-gutter-x-sm">
        <q-badge :color="{QUEUED:'blue-grey',PENDING:'grey',PROCESSING:'blue',COMPLETED:'positive',FAILED:'negative',
                    CANCELLED:'orange'}[props.row.status]"
                 :label="props.row.status.charAt(0) + props.row.status.slice(1).toLowerCase()" />
        <span class="text-caption">{{ props.row.date }} · {{ props.row.size }} · {{ props.row.cost }} · {{ props.row.duration }}</span>
      </div>
      <div class="text-body2 q-mt-xs ellipsis-2-lines" style="overflow-wrap: anywhere">{{ props.row.prompt }}</div>
      <div v-if="props.row.error" class="text-caption text-negative">{{ props.row.error }}</div>
      <div class="row q-gutter-x-sm">
        <q-btn v-if="props.row.retryable" flat dense no-caps icon="refresh" label="Retry"
               @click="() => $parent.$emit('retry', props.row.id)" />
        <q-btn v-if="props.row.image_id" flat dense no-caps icon="photo_library" label="Open"
               @click="() => $parent.$emit('open', props.row.image_id)" />
      </div>
    </q-card-section>
  </q-card>
</div>'''


def table_row(p: Prompt) -> dict[str, Any]:
    return {'id': p.id, 'status': p.status, 'prompt': p.prompt, 'size': size_label(p.model, p.image_size, p.resolution),
            'cost': money(p.cost) + (f' (incl. {p.suspect_submits} possible double charge)' if p.suspect_submits else ''),
            'duration': duration(p.duration_ms), 'error': p.error_message or '', 'date': when(p.created_at),
            'image_id': p.image_id, 'retryable': p.status in (Status.FAILED.value, Status.CANCELLED.value)}


class HistoryView:
    """The filters, the table (cards on phones) and the pager; `load` shows the page `cursors[-1]` opens."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.uid = ctx.user.id
        self.cursors: list[str | None] = [None]  # cursors[i] opens page i; the last entry is the page on screen
        self.next_cursor: str | None = None  # the cursor after the page on screen, if there is more

    def build(self) -> None:
        self.build_filters()
        self.error = ui.label().classes('text-negative text-sm').mark('history-error')
        self.table = ui.table(columns=COLUMNS, rows=[], row_key='id').props(
            'flat bordered hide-pagination :rows-per-page-options="[0]" :grid="Quasar.Screen.lt.md"').classes(
            'w-full').mark('history-table')
        self.table.add_slot('body-cell-status', STATUS_SLOT)
        self.table.add_slot('body-cell-actions', ACTIONS_SLOT)
        self.table.add_slot('item', PHONE_CARD_SLOT)
        self.empty = ui.label().classes('opacity-70').mark('history-empty')
        with ui.row().classes('w-full items-center gap-2'):
            self.summary = ui.label().classes('text-sm opacity-70').mark('history-summary')
            ui.space()
            self.prev_button = ui.button('Previous', icon='chevron_left').props('flat dense').mark('page-prev')
            self.next_button = ui.button('Next').props('flat dense icon-right=chevron_right').mark('page-next')

    def build_filters(self) -> None:
        with ui.row().classes('w-full items-end gap-2'):
            self.status = ui.select({'': 'Any status', **{s.value: s.value.title() for s in Status}}, value='',
                                    label='Status').props('outlined dense').classes('w-36').mark('filter-status')
            self.size = ui.select({0: 'Any size', **{s: f'{s}px' for s in SIZES}}, value=0, label='Size').props(
                'outlined dense').classes('w-32').mark('filter-size')
            self.search = ui.input('Search prompts').props('outlined dense clearable debounce=400').classes(
                'w-56').mark('filter-search')
            self.date_from = iso_date(ui.input('From')).classes('w-40').mark(
                'filter-from')
            self.date_to = iso_date(ui.input('To')).classes('w-40').mark('filter-to')
            self.sort = ui.select(SORTS, value='newest', label='Sort').props('outlined dense').classes('w-40').mark(
                'filter-sort')
            ui.space()
            self.export = ui.button('Export CSV', icon='download').props('outline').mark('export-csv')

    def wire(self) -> None:
        for element in (self.status, self.size, self.search, self.date_from, self.date_to, self.sort):
            element.on_value_change(self.restart)
        self.next_button.on_click(self.go_next)
        self.prev_button.on_click(self.go_prev)
        self.export.on_click(self.export_csv)
        self.table.on('retry', self.retry)
        self.table.on('open', lambda e: ui.navigate.to(f'/gallery?image={int(e.args)}'))

    def filters(self) -> dict[str, Any]:
        return {'status': self.status.value or None, 'size': self.size.value or None,
                'search': (self.search.value or '').strip() or None, 'date_from': self.date_from.value or None,
                'date_to': self.date_to.value or None, 'sort': self.sort.value}

    async def load(self) -> None:
        """Show the page `cursors[-1]` opens; bad filters get a message, and the table keeps what it had."""
        cursors = self.cursors
        try:
            query = history_query(**self.filters())
            page = await self.ctx.services.library.prompts(self.uid, query, cursor=cursors[-1], limit=PAGE_SIZE)
            total = await self.ctx.services.library.count_prompts(self.uid, query)
        except NanogenError as exc:
            self.error.text = exc.user_message
            return
        self.error.text = ''
        self.table.rows = [table_row(p) for p in page.items]
        self.table.update()
        first = (len(cursors) - 1) * PAGE_SIZE
        self.summary.text = f'{first + 1}–{first + len(page.items)} of {total}' if page.items else f'0 of {total}'
        any_filter = any(v for k, v in self.filters().items() if k != 'sort')
        self.empty.text = ('' if page.items else 'No prompts match these filters. Clear a filter to see more.'
                           if any_filter else 'No prompts yet. Your generations will be listed here.')
        self.empty.set_visibility(not page.items)
        self.table.set_visibility(bool(page.items))
        self.prev_button.set_enabled(len(cursors) > 1)
        self.next_button.set_enabled(page.next_cursor is not None)
        self.next_cursor = page.next_cursor

    async def restart(self) -> None:
        self.cursors[:] = [None]
        await self.load()

    async def go_next(self) -> None:
        if self.next_cursor:
            self.cursors.append(self.next_cursor)
            await self.load()

    async def go_prev(self) -> None:
        if len(self.cursors) > 1:
            self.cursors.pop()
            await self.load()

    async def retry(self, e: Any) -> None:
        try:
            created = await self.ctx.services.generation.retry(self.uid, int(e.args))
        except (NanogenError, TypeError, ValueError) as exc:
            notify_error(getattr(exc, 'user_message', 'That generation cannot be retried.'))
            return
        ui.notify(f'Queued again as #{created.id} with the same settings.', type='info')
        await self.restart()

    def export_csv(self) -> None:
        try:
            history_query(**self.filters())
        except NanogenError as exc:
            self.error.text = exc.user_message
            return
        params = {k: v for k, v in self.filters().items() if v not in (None, '')}
        ui.download(f'/history.csv?{urlencode(params)}')
        ui.notify('Exporting your history as CSV…')


@guarded_page('/history', title='History', nav='History', icon='history')
async def history_page(ctx: PageContext) -> None:
    view = HistoryView(ctx)
    with frame(ctx, 'History'):
        view.build()
    view.wire()
    await view.load()

    async def on_events(_batch: list[PromptEvent]) -> None:
        await view.load()  # the page on screen, re-read: statuses, costs and new prompts show up by themselves
    on_prompt_events(ctx.user.id, on_events)
