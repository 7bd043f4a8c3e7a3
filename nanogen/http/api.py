"""REST API v1 (/api/v1) for scripts and notebooks: generate, follow, list, fetch and delete; docs at /api/docs.

Every JSON answer is the envelope `{"success", "data", "error"}`. Who is asking comes from the AuthMiddleware
(session cookie or `Authorization: Bearer <personal API token>`); another user's ids answer 404, like missing ones.
"""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
import asyncio
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, Security, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPBearer
from sqlmodel import select

from nanogen.library import queries
from nanogen.http.api_docs import add_asset_route, swagger_ui_page
from nanogen.http.api_models import (
    DeletedOut,
    Envelope,
    ErrorEnvelope,
    GenerateIn,
    ImageOut,
    ImageSize,
    ListOut,
    MeOut,
    PromptOut,
    RatioLiteral,
    StatusLiteral,
    UsageBucket,
    UsageOut,
    VariantLiteral,
    image_out,
    image_row,
    me_out,
    money,
    prompt_out,
)
from nanogen.accounts.guard import Identity
from nanogen.errors import ImageError, InvalidInput, NanogenError, NotFound
from nanogen.events import PromptEvent
from nanogen.models import Prompt, Status
from nanogen.accounts.ratelimit import RateLimiter
from nanogen.images.references import MAX_UPLOAD_BYTES
from nanogen.generation.requests import MAX_REFERENCES, GenerationRequest, validate_request
from nanogen.http.files import current_identity

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)
PREFIX = '/api/v1'
MAX_WAIT_S = 60
REPLAY_HEADER = 'Idempotent-Replayed'
MAX_USAGE_DAYS = {'day': 366, 'month': 3660}


class Conflict(NanogenError):
    http_status = 409
    code = 'conflict'


def _err(description: str) -> dict[str, Any]:
    return {'model': ErrorEnvelope, 'description': description}


COMMON = {401: _err('No session and no valid API token.'),
          422: _err('A parameter is invalid; `error.field` names it.'),
          429: _err('Too many requests; wait `Retry-After` seconds.')}
BY_ID = {**COMMON, 404: _err('No such id, or it belongs to someone else.')}

IdPath = Annotated[int, Path(ge=1, le=2_147_483_647, description='The id.')]
Cursor = Annotated[str | None, Query(max_length=512, description='`next_cursor` from the previous page.')]
Limit = Annotated[int, Query(ge=1, le=200, description='Items per page.')]
DateFrom = Annotated[datetime | None, Query(description='Inclusive, ISO 8601 (UTC when no offset is given).')]
DateTo = Annotated[datetime | None, Query(description='Exclusive, ISO 8601 (UTC when no offset is given).')]
Search = Annotated[str | None, Query(max_length=200, description='Case-insensitive text in the prompt.')]


def build_api(services: 'Services') -> APIRouter:
    """The /api/v1 routes plus /api/openapi.json and /api/docs; the composition root includes the result."""
    limiter = RateLimiter(services.settings.api_rate_per_minute)
    db, library, generation = services.db, services.library, services.generation

    async def identity(request: Request) -> Identity:
        who = current_identity(request)
        limiter.hit(who.id)
        return who

    Who = Annotated[Identity, Depends(identity)]
    bearer = HTTPBearer(auto_error=False, description='A personal API token from your profile page.')
    v1 = APIRouter(prefix=PREFIX, dependencies=[Security(bearer)], responses=COMMON)

    def base(request: Request) -> str:
        return str(request.base_url).rstrip('/')

    def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(jsonable_encoder({'success': True, 'data': data, 'error': None}), status_code=status,
                            headers=headers)

    # ------------------------------------------------------------------------------------------ generation
    @v1.post('/images/generate', response_model=Envelope[PromptOut], status_code=202, tags=['generation'],
             summary='Start a generation',
             responses={200: {'model': Envelope[PromptOut], 'description': 'Finished within `wait`, or a replay of '
                              'an earlier request with the same Idempotency-Key (header `Idempotent-Replayed: true`).'},
                        201: {'model': Envelope[PromptOut], 'description': 'Created and finished within `wait`.'},
                        402: _err('The monthly budget is spent.'),
                        409: _err('The Idempotency-Key was used for a different request.'),
                        413: _err('The body is larger than 1 MiB.'),
                        429: _err('Too many requests, or too many generations running at once.')})
    async def generate(body: GenerateIn, request: Request, who: Who,
                       wait: Annotated[int, Query(ge=0, le=MAX_WAIT_S, description='Seconds to wait for the '
                                                  'result before answering (0: answer at once).')] = 0,
                       idempotency_key: Annotated[str | None, Header(
                           alias='Idempotency-Key', min_length=1, max_length=128, pattern=r'^[\x21-\x7e]+$',
                           description='Any unique string per intended generation: a retry with the same key never '
                                       'starts (or bills) a second one.')] = None) -> JSONResponse:
        """Records the prompt and answers **202** with its id and `status_url` at once (or waits up to `wait` s).

        Poll `GET /api/v1/prompts/{id}` until `status` is COMPLETED, FAILED or CANCELLED."""
        fields = body.model_dump()
        return await _start(request, who, fields, [], wait, idempotency_key)

    @v1.post('/images/generate/upload', response_model=Envelope[PromptOut], status_code=202, tags=['generation'],
             summary='Start a generation from uploaded reference images (multipart)',
             responses={200: {'model': Envelope[PromptOut], 'description': 'Finished within `wait`, or a replay.'},
                        201: {'model': Envelope[PromptOut], 'description': 'Created and finished within `wait`.'},
                        402: _err('The monthly budget is spent.'),
                        409: _err('The Idempotency-Key was used for a different request.'),
                        413: _err('The body is larger than 20 MiB.'),
                        429: _err('Too many requests, or too many generations running at once.')})
    async def generate_upload(request: Request, who: Who, prompt: Annotated[str, Form(max_length=20_000)],
                              reference_images: Annotated[list[UploadFile], File(
                                  description='1 to 4 PNG, JPEG or WebP images (10 MiB each at most).')],
                              size: Annotated[str, Form(pattern=r'^[0-9]{1,5}$')] = '1024',
                              aspect_ratio: Annotated[str, Form()] = '1:1',
                              num_images: Annotated[str, Form(pattern=r'^[0-9]{1,2}$')] = '1',
                              watermark: Annotated[str | None, Form(max_length=100)] = None,
                              wait: Annotated[int, Query(ge=0, le=MAX_WAIT_S)] = 0,
                              idempotency_key: Annotated[str | None, Header(
                                  alias='Idempotency-Key', min_length=1, max_length=128,
                                  pattern=r'^[\x21-\x7e]+$')] = None) -> JSONResponse:
        """Like `/images/generate`, with the reference images sent as files: each is checked (a real image, not
        too large), stored privately, and handed to the provider as a short-lived URL."""
        if not 1 <= len(reference_images) <= MAX_REFERENCES:
            raise InvalidInput(f'Send 1 to {MAX_REFERENCES} reference images.', field='reference_images')
        uploads = [await f.read(MAX_UPLOAD_BYTES + 1) for f in reference_images]
        # Whole numbers in ASCII digits only ('2.0' and 'true' are refused by the patterns above).
        fields = {'prompt': prompt, 'size': int(size), 'aspect_ratio': aspect_ratio, 'num_images': int(num_images),
                  'watermark': watermark, 'reference_image_urls': []}
        return await _start(request, who, fields, uploads, wait, idempotency_key)

    def _validated(fields: dict[str, Any], urls: list[str]) -> GenerationRequest:
        try:
            return validate_request(prompt=fields['prompt'], size=fields['size'], aspect_ratio=fields['aspect_ratio'],
                                    num_images=fields['num_images'], watermark=fields['watermark'],
                                    reference_urls=tuple(urls), max_prompt_length=services.settings.prompt_max_length)
        except InvalidInput as exc:  # name the field as this API spells it
            if exc.field == 'reference_urls':
                exc.field = 'reference_image_urls'
            raise

    async def _start(request: Request, who: Identity, fields: dict[str, Any], uploads: list[bytes], wait: int,
                     idempotency_key: str | None) -> JSONResponse:
        req = _validated(fields, fields['reference_image_urls'])  # every text field, before any file is stored
        fingerprint = request_fingerprint(req, uploads) if idempotency_key else None
        existing = await _by_idempotency_key(who.id, idempotency_key) if idempotency_key else None
        if existing is not None:
            _same_request_or_conflict(existing, req, fingerprint)
            prompt = existing
        else:
            stored = await _store_references(who.id, uploads)
            try:
                if stored:
                    refs = services.references
                    assert refs is not None
                    req = _validated(fields, [await refs.url_for(who.id, key) for key in stored])
                prompt = await generation.create(who.id, req, idempotency_key=idempotency_key,
                                                 fingerprint=fingerprint)
                if prompt.request_fingerprint != fingerprint:  # a concurrent request with this key won the race
                    existing = prompt
                    _same_request_or_conflict(existing, req, fingerprint)
                    await _discard_references(who.id, stored)  # the winner's references are the ones in use
            except NanogenError:
                await _discard_references(who.id, stored)
                raise
        assert prompt.id is not None
        if wait and not Status(prompt.status).finished:
            prompt = await _wait_for(who.id, prompt.id, wait)
        images = await library.images_of_prompt(who.id, prompt.id) if prompt.status == 'COMPLETED' else []
        headers = {'Location': f'{PREFIX}/prompts/{prompt.id}'}
        if existing is not None:
            headers[REPLAY_HEADER] = 'true'
            status = 200
        else:
            status = 201 if Status(prompt.status).finished else 202
        return ok(prompt_out(base(request), prompt, images), status, headers)

    async def _store_references(user_id: int, uploads: list[bytes]) -> list[str]:
        refs = services.references
        if uploads and (refs is None or not refs.available):
            raise InvalidInput(refs.unavailable_reason if refs else 'Reference images are not set up.',
                               field='reference_images')
        stored: list[str] = []
        try:
            for n, data in enumerate(uploads):
                if len(data) > MAX_UPLOAD_BYTES:
                    raise InvalidInput(f'Reference image {n + 1} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB.',
                                       field='reference_images')
                try:
                    stored.append((await refs.save(user_id, data)).key)  # type: ignore[union-attr]
                except ImageError as exc:
                    raise InvalidInput(f'Reference image {n + 1}: {exc.user_message}',
                                       field='reference_images') from None
        except NanogenError:
            await _discard_references(user_id, stored)
            raise
        return stored

    async def _discard_references(user_id: int, keys: list[str]) -> None:
        for key in keys:
            try:
                await services.references.discard(user_id, key)  # type: ignore[union-attr]
            except NanogenError:
                log.warning('could not remove an unused reference image of user %s', user_id)

    async def _by_idempotency_key(user_id: int, key: str) -> Prompt | None:
        return await db.run(lambda s: s.exec(select(Prompt).where(
            Prompt.user_id == user_id, Prompt.idempotency_key == key)).first())

    async def _wait_for(user_id: int, prompt_id: int, seconds: float) -> Prompt:
        """Wake on the prompt's own events; re-read the row each second too, in case an event was missed."""
        changed = asyncio.Event()

        def on_event(event: PromptEvent) -> None:
            if event.prompt_id == prompt_id:
                changed.set()
        unsubscribe = services.bus.subscribe(on_event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while True:
                prompt = await library.get_prompt(user_id, prompt_id)
                remaining = deadline - loop.time()
                if Status(prompt.status).finished or remaining <= 0:
                    return prompt
                try:
                    await asyncio.wait_for(changed.wait(), timeout=min(1.0, remaining))
                except TimeoutError:
                    pass
                changed.clear()
        finally:
            unsubscribe()

    # ------------------------------------------------------------------------------------------ prompts
    @v1.get('/prompts', response_model=Envelope[ListOut[PromptOut]], tags=['prompts'], summary='List your prompts')
    async def list_prompts(request: Request, who: Who, cursor: Cursor = None, limit: Limit = 50,
                           status: Annotated[StatusLiteral | None, Query()] = None,
                           size: Annotated[ImageSize | None, Query()] = None, q: Search = None,
                           date_from: DateFrom = None, date_to: DateTo = None,
                           sort: Annotated[Literal['newest', 'oldest', 'cost', 'duration'], Query()] = 'newest',
                           ) -> JSONResponse:
        """Newest first by default; pages never skip or repeat a prompt, even while new ones are created."""
        query = queries.PromptQuery(status=status, size=None if size is None else int(size), search=_text(q, 'q'),
                                    sort=sort, date_from=_utc(date_from, 'date_from'), date_to=_utc(date_to, 'date_to'))
        page = await queries.list_prompts(db, who.id, query, cursor=cursor, limit=limit)
        images = await queries.images_of_prompts(db, who.id, [p.id for p in page.items if p.id is not None])
        items = [prompt_out(base(request), p, images.get(p.id or 0)).model_copy(update={'images': []})
                 for p in page.items]
        return ok(ListOut[PromptOut](items=items, next_cursor=page.next_cursor))

    @v1.get('/prompts/{prompt_id}', response_model=Envelope[PromptOut], responses=BY_ID, tags=['prompts'],
            summary='Status and result of one prompt')
    async def get_prompt(prompt_id: IdPath, request: Request, who: Who) -> JSONResponse:
        prompt = await library.get_prompt(who.id, prompt_id)
        return ok(prompt_out(base(request), prompt, await library.images_of_prompt(who.id, prompt_id)))

    @v1.delete('/prompts/{prompt_id}', response_model=Envelope[PromptOut], tags=['prompts'],
               summary='Cancel a running prompt',
               responses={**BY_ID, 422: _err('It has already ended (`error.field` is `status`), or a bad id.')})
    async def cancel_prompt(prompt_id: IdPath, request: Request, who: Who) -> JSONResponse:
        """Once submitted, the provider bills the work anyway: `cost` says so."""
        prompt = await generation.cancel(who.id, prompt_id)
        return ok(prompt_out(base(request), prompt))

    # ------------------------------------------------------------------------------------------ images
    @v1.get('/images', response_model=Envelope[ListOut[ImageOut]], tags=['images'], summary='List your images')
    async def list_images(request: Request, who: Who, cursor: Cursor = None, limit: Limit = 60,
                          q: Search = None, favourites: Annotated[bool, Query(description='Only favourites.')] = False,
                          size: Annotated[ImageSize | None, Query()] = None,
                          aspect_ratio: Annotated[RatioLiteral | None, Query()] = None,
                          date_from: DateFrom = None, date_to: DateTo = None,
                          sort: Annotated[Literal['newest', 'oldest'], Query()] = 'newest') -> JSONResponse:
        query = queries.ImageQuery(search=_text(q, 'q'), favourites_only=favourites,
                                   size=None if size is None else int(size),
                                   aspect_ratio=aspect_ratio, sort=sort, date_from=_utc(date_from, 'date_from'),
                                   date_to=_utc(date_to, 'date_to'))
        page = await queries.list_images(db, who.id, query, cursor=cursor, limit=limit)
        return ok(ListOut[ImageOut](items=[image_out(base(request), r) for r in page.items],
                                    next_cursor=page.next_cursor))

    @v1.get('/images/{image_id}', response_model=Envelope[ImageOut], responses=BY_ID, tags=['images'],
            summary='One image')
    async def get_image(image_id: IdPath, request: Request, who: Who) -> JSONResponse:
        image = await library.get_image(who.id, image_id)
        prompt = await library.get_prompt(who.id, image.prompt_id)
        return ok(image_out(base(request), image_row(image, prompt)))

    @v1.get('/images/{image_id}/file', tags=['images'], summary="An image's bytes",
            response_class=Response,
            responses={**BY_ID, 200: {'description': 'The bytes.', 'content': {'image/png': {}, 'image/webp': {},
                                                                               'image/jpeg': {}}},
                       307: {'description': 'A short-lived presigned URL to the object store.'}})
    async def image_file(image_id: IdPath, request: Request, who: Who,
                         variant: Annotated[VariantLiteral, Query()] = 'image',
                         download: Annotated[bool, Query(description='Ask the browser to save it.')] = False,
                         ) -> Response:
        ref = await library.file_for(who.id, image_id, variant)
        url = await library.url_for(ref, download=download)
        if url:
            return RedirectResponse(url, status_code=307, headers={'Cache-Control': 'private, max-age=60'})
        if request.headers.get('if-none-match') == ref.etag:
            return Response(status_code=304, headers={'ETag': ref.etag})
        data = await library.read(ref)
        headers = {'Cache-Control': 'private, max-age=86400, immutable', 'ETag': ref.etag,
                   'X-Content-Type-Options': 'nosniff'}
        if download:
            headers['Content-Disposition'] = f'attachment; filename="{ref.filename}"'
        return Response(data, media_type=ref.content_type, headers=headers)

    @v1.delete('/images/{image_id}', response_model=Envelope[DeletedOut], responses=BY_ID, tags=['images'],
               summary='Delete an image (undo until undo_until)')
    async def delete_image(image_id: IdPath, who: Who) -> JSONResponse:
        # The gallery's semantics: hidden at once, files purged after the undo window (nanogen/library/deletes.py).
        deleted = await library.delete_images(who.id, [image_id])
        return ok(DeletedOut(id=image_id, undo_until=deleted.undo_until))

    @v1.post('/images/{image_id}/restore', response_model=Envelope[ImageOut], responses=BY_ID, tags=['images'],
             summary='Undo a delete within its window')
    async def restore_image(image_id: IdPath, request: Request, who: Who) -> JSONResponse:
        if not await library.restore_images(who.id, [image_id]):
            raise NotFound('That image does not exist or can no longer be restored.')
        image = await library.get_image(who.id, image_id)
        prompt = await library.get_prompt(who.id, image.prompt_id)
        return ok(image_out(base(request), image_row(image, prompt)))

    # ------------------------------------------------------------------------------------------ me
    @v1.get('/me', response_model=Envelope[MeOut], tags=['me'], summary='Who you are')
    async def me(who: Who) -> JSONResponse:
        return ok(me_out(who))

    @v1.get('/me/usage', response_model=Envelope[UsageOut], tags=['me'], summary='Your spend and counts')
    async def my_usage(who: Who, period: Annotated[Literal['day', 'month'], Query()] = 'day',
                       date_from: Annotated[datetime | None, Query(description='Inclusive; default: 30 days (day) '
                                                                   'or a year (month) before date_to.')] = None,
                       date_to: Annotated[datetime | None, Query(description='Exclusive; default: now.')] = None,
                       ) -> JSONResponse:
        end = _utc(date_to, 'date_to') or datetime.now(UTC)
        start = _utc(date_from, 'date_from') or end - timedelta(days=30 if period == 'day' else 365)
        if start >= end:
            raise InvalidInput('date_from must be before date_to.', field='date_from')
        if end - start > timedelta(days=MAX_USAGE_DAYS[period]):
            raise InvalidInput(f'The range is too long: at most {MAX_USAGE_DAYS[period]} days by {period}.',
                               field='date_from')
        buckets = await queries.usage(db, who.id, period=period, date_from=start, date_to=end)
        out = [UsageBucket(period_start=b.period_start, prompts=b.prompts, completed=b.completed, failed=b.failed,
                           images=b.images, spend=money(b.spend)) for b in buckets]
        totals = UsageBucket(period_start=start, prompts=sum(b.prompts for b in buckets),
                             completed=sum(b.completed for b in buckets), failed=sum(b.failed for b in buckets),
                             images=sum(b.images for b in buckets), spend=money(sum((b.spend for b in buckets),
                                                                                    start=Decimal(0))))
        return ok(UsageOut(period=period, date_from=start, date_to=end, buckets=out, totals=totals))

    # ------------------------------------------------------------------------------------------ docs
    root = APIRouter(include_in_schema=False)
    root.include_router(v1)
    schema: dict[str, Any] = {}

    @root.get('/api/openapi.json')
    async def openapi() -> JSONResponse:
        if not schema:
            schema.update(get_openapi(
                title='nanogen API', version='1.0.0', routes=v1.routes,
                description='Generate images and read your library from scripts. Authenticate with '
                            '`Authorization: Bearer <token>` (create a token on your profile page) or a signed-in '
                            'session. Every JSON answer is `{"success", "data", "error"}`; errors carry '
                            '`error.code`, a readable `error.message` and, for invalid input, `error.field`.'))
        return JSONResponse(schema)

    @root.get('/api/docs')
    async def docs() -> HTMLResponse:
        return swagger_ui_page('/api/openapi.json', 'nanogen API')

    add_asset_route(root)

    return root


def _text(value: str | None, field: str) -> str | None:
    if value is not None and not value.isprintable():
        raise InvalidInput('The search text must not contain control characters.', field=field)
    return value


def _utc(value: datetime | None, field: str) -> datetime | None:
    """Aware UTC; a naive time is taken as UTC. A date that cannot be placed in UTC is refused, not crashed on."""
    if value is None:
        return None
    try:
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        aware + timedelta(days=MAX_USAGE_DAYS['month'])  # room for the usage range arithmetic
        aware - timedelta(days=MAX_USAGE_DAYS['month'])
    except (OverflowError, ValueError):
        raise InvalidInput('Use a date between the years 0011 and 9989.', field=field) from None
    return aware


def request_fingerprint(req: GenerationRequest, uploads: list[bytes]) -> str:
    """SHA-256 of the whole request: every validated field, and each uploaded reference by its content (uploads
    get new storage URLs on every call, so their bytes are what identifies them)."""
    canonical = json.dumps({'prompt': req.prompt, 'size': req.size, 'aspect_ratio': req.aspect_ratio,
                            'num_images': req.num_images, 'watermark': req.watermark,
                            'reference_urls': [] if uploads else list(req.reference_urls),
                            'uploads': [hashlib.sha256(data).hexdigest() for data in uploads]},
                           sort_keys=True, separators=(',', ':'), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _same_request_or_conflict(existing: Prompt, req: GenerationRequest, fingerprint: str | None) -> None:
    if existing.request_fingerprint is not None:
        same = existing.request_fingerprint == fingerprint
    else:  # a row from before fingerprints: compare what it stores
        stored_urls = tuple(json.loads(existing.reference_urls)) if existing.reference_urls else ()
        same = ((existing.prompt, existing.image_size, existing.aspect_ratio, existing.num_images, existing.watermark,
                 existing.task_type) == (req.prompt, req.size, req.aspect_ratio, req.num_images, req.watermark,
                                         req.task_type.value)
                and (req.task_type.value == 'IMAGE_TO_IMAGE' or stored_urls == req.reference_urls))
    if not same:
        raise Conflict('This Idempotency-Key was already used for a different request: use a new key for a new '
                       'generation.')
