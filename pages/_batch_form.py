"""The generator's Batch tab: a prompt list, a CSV/XLSX sheet or a template with variables; a preview table with
each row's error, the total estimate and the budget result; then submit (which opens the batch's page). Start reads
the input again and submits only the rows that were previewed: an edit after the preview shows a new preview first."""

from __future__ import annotations

from nicegui import events, ui

from nanogen.batches import inputs
from nanogen.batches.inputs import RawRow
from nanogen.batches.rows import Plan
from nanogen.errors import NanogenError

from ._format import money
from .frame import PageContext, notify_error

PREVIEW_COLUMNS = [
    {'name': 'row', 'label': 'Row', 'field': 'row', 'align': 'right'},
    {'name': 'prompt', 'label': 'Prompt', 'field': 'prompt', 'align': 'left',
     'classes': 'max-w-[320px] truncate'},
    {'name': 'model', 'label': 'Model', 'field': 'model', 'align': 'left'},
    {'name': 'size', 'label': 'Size', 'field': 'size', 'align': 'left'},
    {'name': 'ratio', 'label': 'Ratio', 'field': 'ratio', 'align': 'left'},
    {'name': 'images', 'label': 'Images', 'field': 'images', 'align': 'right'},
    {'name': 'estimate', 'label': 'Estimate', 'field': 'estimate', 'align': 'right'},
    {'name': 'error', 'label': 'Error', 'field': 'error', 'align': 'left', 'classes': 'text-negative'},
]
MODES = {'cartesian': 'Every combination', 'zip': 'Together, in order'}


def parse_variables(text: str) -> dict[str, list[str]]:
    """`product: mug, lamp` one variable a line -> {'product': ['mug', 'lamp']}."""
    values: dict[str, list[str]] = {}
    for line in (text or '').splitlines():
        name, sep, rest = line.partition(':')
        if sep and name.strip():
            values[name.strip()] = [v.strip() for v in rest.split(',') if v.strip()]
    return values


def preview_rows(checked: Plan) -> list[dict[str, object]]:
    rows = []
    for r in checked.rows:
        req = r.request
        rows.append({'row': r.raw.number, 'prompt': req.prompt if req else r.raw.prompt,
                     'model': req.model if req else (r.raw.model or ''),
                     'size': (req.resolution or str(req.size)) if req else (r.raw.size or ''),
                     'ratio': req.aspect_ratio if req else (r.raw.ratio or ''),
                     'images': req.num_images if req else (r.raw.images or ''),
                     'estimate': money(r.estimate) if r.ok else '', 'error': r.error or ''})
    return rows


class BatchForm:
    """State of one tab's batch form; the service does the parsing checks, the budget and the recording."""

    def __init__(self, ctx: PageContext) -> None:
        self.ctx = ctx
        self.batches = ctx.services.batches
        self.max_rows = ctx.services.settings.batch_max_rows
        self.file: tuple[str, bytes] | None = None
        self.raws: list[RawRow] = []
        self.source = 'lines'

    def build(self) -> None:
        with ui.column().classes('w-full max-w-4xl gap-2'):
            self.name = ui.input('Batch name (optional)').props('outlined dense maxlength=200').classes('w-96').mark(
                'batch-name')
            with ui.tabs().classes('w-full') as tabs:
                lines_tab = ui.tab('lines', label='Prompt list').mark('batch-tab-lines')
                ui.tab('sheet', label='CSV / XLSX').mark('batch-tab-sheet')
                ui.tab('template', label='Template').mark('batch-tab-template')
            self.tabs = tabs
            with ui.tab_panels(tabs, value=lines_tab).classes('w-full'):
                with ui.tab_panel('lines'):
                    self.lines = ui.textarea('Prompts, one a line').props('outlined autogrow').classes(
                        'w-full').mark('batch-lines')
                with ui.tab_panel('sheet'):
                    ui.label('Columns: prompt, model, size (or resolution), ratio, images, watermark, reference '
                             '(one of your gallery image ids).').classes('text-xs opacity-70')
                    ui.upload(auto_upload=True, max_file_size=inputs.MAX_BYTES, on_upload=self.on_file).props(
                        'accept=".csv,.xlsx"').classes('w-full').mark('batch-file')
                    self.file_label = ui.label('').classes('text-sm').mark('batch-file-name')
                with ui.tab_panel('template'):
                    self.template = ui.input('Template, e.g. a {product} on a {surface}').props(
                        'outlined dense').classes('w-full').mark('batch-template')
                    self.variables = ui.textarea('Values, one variable a line: product: mug, lamp').props(
                        'outlined autogrow').classes('w-full').mark('batch-variables')
                    self.mode = ui.toggle(MODES, value='cartesian').mark('batch-mode')
            with ui.row().classes('items-center gap-2'):
                ui.button('Preview', icon='table_view', on_click=self.preview).props('no-caps').mark('batch-preview')
                self.submit_button = ui.button('Start batch', icon='playlist_play', on_click=self.submit).props(
                    'no-caps').mark('batch-submit')
                self.submit_button.disable()
            self.summary = ui.label('').classes('text-sm').mark('batch-summary')
            self.table = ui.table(columns=PREVIEW_COLUMNS, rows=[], row_key='row', pagination=20).classes(
                'w-full').mark('batch-preview-table')
            self.table.set_visibility(False)

    async def on_file(self, e: events.UploadEventArguments) -> None:
        self.file = (e.file.name, await e.file.read())
        self.file_label.text = f'{e.file.name} ({len(self.file[1]):,} bytes)'
        self.tabs.value = 'sheet'

    async def read_rows(self) -> list[RawRow]:
        tab = self.tabs.value
        if tab == 'sheet':
            if self.file is None:
                raise_input('Upload a CSV or XLSX file first.')
            name, data = self.file  # type: ignore[misc]
            self.source = 'xlsx' if inputs.is_xlsx(name, data) else 'csv'
            return await inputs.parse_sheet(name, data, max_rows=self.max_rows)  # off the event loop
        if tab == 'template':
            self.source = 'template'
            return inputs.from_template(self.template.value or '', parse_variables(self.variables.value or ''),
                                        mode=self.mode.value or 'cartesian', max_rows=self.max_rows)
        self.source = 'lines'
        return inputs.from_lines(self.lines.value or '', max_rows=self.max_rows)

    async def preview(self) -> None:
        assert self.batches is not None
        self.submit_button.disable()
        try:
            self.raws = await self.read_rows()
            checked = await self.batches.preview(self.ctx.user.id, self.raws)
            budget = await self.batches.budget_result(self.ctx.user.id, checked) if checked.ok else None
        except NanogenError as exc:
            self.summary.text = exc.user_message
            self.table.set_visibility(False)
            return
        self.table.rows = preview_rows(checked)
        self.table.update()
        self.table.set_visibility(True)
        total = f'{len(checked.rows)} rows · estimated total {money(checked.total_estimate)}'
        if not checked.ok:
            self.summary.text = f'{total} · {checked.errors} rows have errors: fix them, then preview again.'
        elif budget is not None:
            self.summary.text = f'{total} · {budget}'
        else:
            self.summary.text = f'{total} · fits your budget.'
            self.submit_button.enable()

    async def submit(self) -> None:
        assert self.batches is not None
        self.submit_button.disable()
        previewed = self.raws
        try:
            current = await self.read_rows()
        except NanogenError as exc:
            self.summary.text = exc.user_message
            self.table.set_visibility(False)
            return
        if current != previewed:  # edited (text, file, tab) since the preview: what runs must be what was shown
            await self.preview()
            ui.notify('The input changed since the preview: check the new preview, then start.', type='warning')
            return
        try:
            view = await self.batches.create(self.ctx.user.id, current, name=self.name.value or '',
                                             source=self.source)
        except NanogenError as exc:
            notify_error(exc.user_message)
            return
        ui.navigate.to(f'/batches/{view.id}')


def raise_input(message: str) -> None:
    from nanogen.errors import InvalidInput
    raise InvalidInput(message, field='file')
