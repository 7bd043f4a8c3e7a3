"""/api/v1/batches: preview (`?dry_run=true`) and start a batch from JSON rows, prompt lines or a template, or from
an uploaded CSV/XLSX (`/batches/upload`); list, progress and rows; pause, resume, cancel, retry failed rows; the
results as a zip with metadata.csv; put the images on a board. Another user's batch answers 404."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from nanogen.batches import inputs
from nanogen.batches.export import batch_zip, put_on_board
from nanogen.batches.inputs import RawRow
from nanogen.batches.rows import Plan
from nanogen.batches.service import BatchService, BatchView
from nanogen.errors import InvalidInput
from nanogen.http.api.boards import AddedOut
from nanogen.http.api.common import BY_ID, COMMON, Cursor, IdPath, Limit, err, ok
from nanogen.http.api.models import Envelope, ListOut
from nanogen.images.references import MAX_UPLOAD_BYTES

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

DryRun = Annotated[bool, Query(description='Validate and estimate only: the expanded rows, their errors and the '
                                           'budget result; nothing is stored.')]
CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **COMMON, 402: err('The whole batch does not fit a budget (the message says how many rows would).'),
    422: err('A row is invalid (`?dry_run=true` lists every row\'s error) or the input cannot be read.')}


class BatchIn(BaseModel):
    """Exactly one of `rows`, `lines` or `template` (with `variables`)."""

    name: str = Field(default='', max_length=200)
    rows: list[dict[str, Any]] | None = Field(default=None, description='Objects with prompt and optional model, '
                                              'size (or resolution), ratio, images, watermark, reference.')
    lines: str | None = Field(default=None, max_length=900_000, description='One prompt a line.')
    template: str | None = Field(default=None, max_length=20_000, description='e.g. "a {product} on a {surface}".')
    variables: dict[str, list[str]] | None = Field(default=None, description='A value list per variable.')
    mode: Literal['cartesian', 'zip'] = 'cartesian'
    defaults: dict[str, Any] | None = Field(default=None, description='Settings for every template row '
                                            '(model, size, ratio, images, watermark).')


class PreviewRowOut(BaseModel):
    row: int
    prompt: str
    variables: dict[str, str]
    model: str | None
    size: str | None = Field(description='The pixel size or the resolution, as the model is sized.')
    aspect_ratio: str | None
    num_images: int | None
    reference: str | None
    estimated_cost: Decimal
    error: str | None = Field(description='Why this row cannot run; null when it can.')
    field: str | None = Field(description='The column the error is about.')


class PreviewOut(BaseModel):
    rows: list[PreviewRowOut]
    row_count: int
    errors: int
    total_estimate: Decimal
    budget_ok: bool
    budget_message: str | None = Field(description='The refusal the budget check would give (how many rows fit).')


class CountsOut(BaseModel):
    done: int
    running: int
    failed: int
    queued: int
    cancelled: int


class BatchRowOut(BaseModel):
    row: int
    prompt_id: int
    prompt: str
    variables: dict[str, str]
    reference: str | None
    model: str
    size: str
    aspect_ratio: str
    num_images: int
    status: str = Field(description='QUEUED (waiting its turn), PENDING, PROCESSING, COMPLETED, FAILED or CANCELLED.')
    estimated_cost: Decimal
    cost: Decimal
    error_message: str | None
    image_ids: list[int]


class BatchOut(BaseModel):
    id: int
    name: str
    source: str
    status: str = Field(description='RUNNING, PAUSED, CANCELLED or DONE.')
    total_rows: int
    estimated_cost: Decimal
    cost: Decimal = Field(description='Spent so far plus the reservation of rows not ended.')
    counts: CountsOut
    created_at: datetime
    finished_at: datetime | None
    rows: list[BatchRowOut] | None = Field(default=None, description='In row order (one batch only).')


class BoardIn(BaseModel):
    board_id: int = Field(ge=1, le=2_147_483_647)


def batch_out(view: BatchView, *, rows: bool = False) -> BatchOut:
    return BatchOut(id=view.id, name=view.name, source=view.source, status=view.status, total_rows=view.total_rows,
                    estimated_cost=view.estimated_cost, cost=view.cost, counts=CountsOut(**view.counts),
                    created_at=view.created_at, finished_at=view.finished_at,
                    rows=[BatchRowOut(row=r.row_number, prompt_id=r.prompt_id, prompt=r.prompt, variables=r.variables,
                                      reference=r.reference, model=r.model, size=r.size, aspect_ratio=r.aspect_ratio,
                                      num_images=r.num_images, status=r.status, estimated_cost=r.estimated_cost,
                                      cost=r.cost, error_message=r.error_message, image_ids=r.image_ids)
                          for r in view.rows] if rows else None)


def preview_out(checked: Plan, budget_message: str | None) -> PreviewOut:
    rows = []
    for r in checked.rows:
        req = r.request
        rows.append(PreviewRowOut(
            row=r.raw.number, prompt=req.prompt if req else r.raw.prompt, variables=r.raw.variables,
            model=req.model if req else r.raw.model, size=(req.resolution or str(req.size)) if req else r.raw.size,
            aspect_ratio=req.aspect_ratio if req else r.raw.ratio, num_images=req.num_images if req else None,
            reference=r.raw.reference, estimated_cost=r.estimate, error=r.error, field=r.field))
    return PreviewOut(rows=rows, row_count=len(rows), errors=checked.errors, total_estimate=checked.total_estimate,
                      budget_ok=budget_message is None, budget_message=budget_message)


def rows_of(body: BatchIn, max_rows: int) -> tuple[list[RawRow], str]:
    given = [k for k in ('rows', 'lines', 'template') if getattr(body, k) is not None]
    if len(given) != 1:
        raise InvalidInput('Give exactly one of rows, lines or template.', field='rows')
    if body.rows is not None:
        return inputs.from_records(body.rows, max_rows=max_rows), 'rows'
    if body.lines is not None:
        return inputs.from_lines(body.lines, max_rows=max_rows), 'lines'
    return inputs.from_template(body.template or '', body.variables or {}, mode=body.mode, max_rows=max_rows,
                                settings_row=body.defaults), 'template'


async def start(batches: BatchService, user_id: int, raws: list[RawRow], *, name: str, source: str, dry_run: bool,
                uploads: dict[str, bytes] | None = None) -> JSONResponse:
    if dry_run:
        checked = await batches.preview(user_id, raws, uploads=uploads)
        message = await batches.budget_result(user_id, checked) if checked.ok else None
        return ok(preview_out(checked, message))
    view = await batches.create(user_id, raws, name=name, source=source, uploads=uploads)
    return ok(batch_out(view), status=201)


def build_batches_router(services: 'Services', Who: Any) -> APIRouter:
    """Long because: one short route per operation on batches."""
    router = APIRouter(tags=['batches'])
    batches = services.batches
    assert batches is not None
    max_rows = services.settings.batch_max_rows

    @router.post('/batches', response_model=Envelope[BatchOut] | Envelope[PreviewOut], status_code=201,
                 responses=CREATE_RESPONSES, summary='Start a batch (or preview it with dry_run)')
    async def create_batch(who: Who, body: BatchIn, dry_run: DryRun = False) -> JSONResponse:
        raws, source = rows_of(body, max_rows)
        return await start(batches, who.id, raws, name=body.name, source=source, dry_run=dry_run)

    @router.post('/batches/upload', response_model=Envelope[BatchOut] | Envelope[PreviewOut], status_code=201,
                 responses={**CREATE_RESPONSES, 413: err('The body is larger than 20 MiB.')},
                 summary='Start a batch from a CSV or XLSX sheet (multipart), with reference files named in it')
    async def upload_batch(who: Who, file: Annotated[UploadFile, File(description='CSV (UTF-8) or XLSX.')],
                           references: Annotated[list[UploadFile] | None, File(
                               description='Reference images, named in the sheet\'s reference column.')] = None,
                           name: Annotated[str, Form(max_length=200)] = '', dry_run: DryRun = False) -> JSONResponse:
        data = await file.read(inputs.MAX_BYTES + 1)
        raws = await inputs.parse_sheet(file.filename or '', data, max_rows=max_rows)  # off the event loop
        uploads: dict[str, bytes] = {}
        for ref in references or []:
            content = await ref.read(MAX_UPLOAD_BYTES + 1)
            if len(content) > MAX_UPLOAD_BYTES:
                raise InvalidInput(f'Reference "{(ref.filename or "")[:60]}" is larger than '
                                   f'{MAX_UPLOAD_BYTES // 2**20} MiB.', field='references')
            uploads[ref.filename or ''] = content
        return await start(batches, who.id, raws, name=name or (file.filename or '')[:200],
                           source='xlsx' if inputs.is_xlsx(file.filename or '', data) else 'csv', dry_run=dry_run,
                           uploads=uploads)

    @router.get('/batches', response_model=Envelope[ListOut[BatchOut]], summary='Your batches, newest first')
    async def list_batches(who: Who, cursor: Cursor = None, limit: Limit = 50) -> JSONResponse:
        before = None
        if cursor is not None:
            if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 10:
                raise InvalidInput('That cursor is not one this API gave.', field='cursor')
            before = int(cursor)
        views = await batches.list_batches(who.id, limit=limit, before_id=before)
        return ok(ListOut[BatchOut](items=[batch_out(v) for v in views],
                                    next_cursor=str(views[-1].id) if len(views) == limit else None))

    @router.get('/batches/{batch_id}', response_model=Envelope[BatchOut], responses=BY_ID,
                summary='Progress and rows of one batch')
    async def get_batch(batch_id: IdPath, who: Who) -> JSONResponse:
        return ok(batch_out(await batches.get(who.id, batch_id), rows=True))

    def command(name: str, summary: str) -> None:
        async def run(batch_id: IdPath, who: Who) -> JSONResponse:
            act = {'pause': batches.pause, 'resume': batches.resume, 'cancel': batches.cancel,
                   'retry-failed': batches.retry_failed}[name]
            return ok(batch_out(await act(who.id, batch_id)))
        run.__name__ = f'{name.replace("-", "_")}_batch'
        router.post(f'/batches/{{batch_id}}/{name}', response_model=Envelope[BatchOut], summary=summary,
                    responses={**BY_ID, 402: err('Retrying does not fit a budget.'),
                               422: err('Not possible in the batch\'s state (`error.field` is `status`).')})(run)

    command('pause', 'Pause: start no more rows (running ones finish)')
    command('resume', 'Resume a paused batch where it stopped')
    command('cancel', 'Cancel the rows not started (running ones finish)')
    command('retry-failed', 'Queue a new attempt of every failed row')

    @router.get('/batches/{batch_id}/zip', responses={**BY_ID, 200: {'content': {'application/zip': {}}}},
                summary='The images and metadata.csv as a zip', response_class=Response)
    async def batch_zip_download(batch_id: IdPath, who: Who) -> Response:
        chunks = await batch_zip(batches, services.storage, who.id, batch_id)
        return StreamingResponse(chunks, media_type='application/zip',
                                 headers={'Content-Disposition': f'attachment; filename="nanogen-batch-{batch_id}.zip"',
                                          'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff'})

    @router.post('/batches/{batch_id}/board', response_model=Envelope[AddedOut], responses=BY_ID,
                 summary="Put the batch's images on a board (owner, editor)")
    async def batch_to_board(batch_id: IdPath, who: Who, body: BoardIn) -> JSONResponse:
        return ok(AddedOut(added=await put_on_board(batches, services.library.boards, who.id, batch_id,
                                                    body.board_id)))

    return router
