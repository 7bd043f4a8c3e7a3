"""POST /api/v1/images/generate (JSON) and /images/generate/upload (multipart): start a generation, maybe wait."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from nanogen.accounts.users import Identity
from nanogen.errors import ImageError, InvalidInput, NanogenError
from nanogen.events import PromptEvent
from nanogen.generation.catalogue import reference_limit
from nanogen.generation.idempotency import request_fingerprint
from nanogen.generation.requests import GenerationRequest, validate_request
from nanogen.http.api.common import PREFIX, base, err, ok
from nanogen.http.api.models import Envelope, GenerateIn, PromptOut, prompt_out
from nanogen.images.references import MAX_UPLOAD_BYTES
from nanogen.models import Prompt, Status

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)
MAX_WAIT_S = 60
REPLAY_HEADER = 'Idempotent-Replayed'
IDEMPOTENCY_KEY = {'alias': 'Idempotency-Key', 'min_length': 1, 'max_length': 128, 'pattern': r'^[\x21-\x7e]+$'}


def _responses(max_body: str, finished: str) -> dict[int | str, dict[str, Any]]:
    return {200: {'model': Envelope[PromptOut], 'description': finished},
            201: {'model': Envelope[PromptOut], 'description': 'Created and finished within `wait`.'},
            402: err('The monthly budget is spent.'),
            409: err('The Idempotency-Key was used for a different request.'),
            413: err(f'The body is larger than {max_body}.'),
            429: err('Too many requests, or too many generations running at once.')}


def build_generate_router(services: 'Services', Who: Any) -> APIRouter:
    router = APIRouter(tags=['generation'])
    starter = Starter(services)

    @router.post('/images/generate', response_model=Envelope[PromptOut], status_code=202,
                 summary='Start a generation',
                 responses=_responses('1 MiB', 'Finished within `wait`, or a replay of an earlier request with the '
                                      'same Idempotency-Key (header `Idempotent-Replayed: true`).'))
    async def generate(body: GenerateIn, request: Request, who: Who,
                       wait: Annotated[int, Query(ge=0, le=MAX_WAIT_S, description='Seconds to wait for the '
                                                  'result before answering (0: answer at once).')] = 0,
                       idempotency_key: Annotated[str | None, Header(
                           **IDEMPOTENCY_KEY, description='Any unique string per intended generation: a retry with '
                                                          'the same key never starts (or bills) a second one.')] = None,
                       ) -> JSONResponse:
        """Records the prompt and answers **202** with its id and `status_url` at once (or waits up to `wait` s).

        Poll `GET /api/v1/prompts/{id}` until `status` is COMPLETED, FAILED or CANCELLED."""
        return await starter.start(request, who, body.model_dump(), [], wait, idempotency_key)

    @router.post('/images/generate/upload', response_model=Envelope[PromptOut], status_code=202,
                 summary='Start a generation from uploaded reference images (multipart)',
                 responses=_responses('20 MiB', 'Finished within `wait`, or a replay.'))
    async def generate_upload(request: Request, who: Who, prompt: Annotated[str, Form(max_length=20_000)],
                              reference_images: Annotated[list[UploadFile], File(
                                  description="1 to the model's limit (4, 8 or 14) PNG, JPEG or WebP images "
                                              '(10 MiB each at most).')],
                              size: Annotated[str | None, Form(pattern=r'^[0-9]{1,5}$')] = None,
                              aspect_ratio: Annotated[str, Form()] = '1:1',
                              model: Annotated[str | None, Form(max_length=40)] = None,
                              resolution: Annotated[str | None, Form(max_length=4)] = None,
                              num_images: Annotated[str, Form(pattern=r'^[0-9]{1,2}$')] = '1',
                              watermark: Annotated[str | None, Form(max_length=100)] = None,
                              wait: Annotated[int, Query(ge=0, le=MAX_WAIT_S)] = 0,
                              idempotency_key: Annotated[str | None, Header(**IDEMPOTENCY_KEY)] = None,
                              ) -> JSONResponse:
        """Like `/images/generate`, with the reference images sent as files: each is checked (a real image, not
        too large), stored privately, and handed to the provider as a short-lived URL."""
        limit = reference_limit(services.settings, model)
        if not 1 <= len(reference_images) <= limit:
            raise InvalidInput(f'Send 1 to {limit} reference images.', field='reference_images')
        uploads = [await f.read(MAX_UPLOAD_BYTES + 1) for f in reference_images]
        # Whole numbers in ASCII digits only ('2.0' and 'true' are refused by the patterns above).
        fields: dict[str, Any] = {'prompt': prompt, 'size': None if size is None else int(size), 'aspect_ratio': aspect_ratio,
                  'num_images': int(num_images), 'watermark': watermark, 'reference_image_urls': [],
                  'model': model, 'resolution': resolution}
        return await starter.start(request, who, fields, uploads, wait, idempotency_key)

    return router


class Starter:
    """Validates, stores uploaded references, creates (or replays) the prompt and answers in the envelope."""

    def __init__(self, services: 'Services') -> None:
        self.services = services

    def validated(self, fields: dict[str, Any], urls: list[str]) -> GenerationRequest:
        try:
            return validate_request(prompt=fields['prompt'], size=fields.get('size'),
                                    aspect_ratio=fields['aspect_ratio'], num_images=fields['num_images'],
                                    watermark=fields['watermark'], reference_urls=tuple(urls),
                                    max_prompt_length=self.services.settings.prompt_max_length,
                                    model=fields.get('model'), resolution=fields.get('resolution'),
                                    google_search=fields.get('google_search'),
                                    output_format=fields.get('output_format'), settings=self.services.settings)
        except InvalidInput as exc:  # name the field as this API spells it
            if exc.field == 'reference_urls':
                exc.field = 'reference_image_urls'
            raise

    async def start(self, request: Request, who: Identity, fields: dict[str, Any], uploads: list[bytes], wait: int,
                    idempotency_key: str | None) -> JSONResponse:
        generation = self.services.generation
        req = self.validated(fields, fields['reference_image_urls'])  # every text field, before any file is stored
        fingerprint = request_fingerprint(req, uploads) if idempotency_key else None
        existing = await generation.find_by_idempotency_key(who.id, idempotency_key) if idempotency_key else None
        if existing is not None:
            generation.check_replay(existing, req, fingerprint)
            prompt = existing
        else:
            prompt, replayed = await self.create(who.id, fields, req, uploads, idempotency_key, fingerprint)
            existing = prompt if replayed else None
        pid = prompt.id
        assert pid is not None
        if wait and not Status(prompt.status).finished:
            prompt = await self.wait_for(who.id, pid, wait)
        library = self.services.library
        images = await library.images_of_prompt(who.id, pid) if prompt.status == 'COMPLETED' else []
        headers = {'Location': f'{PREFIX}/prompts/{pid}'}
        if existing is not None:
            headers[REPLAY_HEADER] = 'true'
            status = 200
        else:
            status = 201 if Status(prompt.status).finished else 202
        return ok(prompt_out(base(request), prompt, images), status, headers)

    async def create(self, user_id: int, fields: dict[str, Any], req: GenerationRequest, uploads: list[bytes],
                     idempotency_key: str | None, fingerprint: str | None) -> tuple[Prompt, bool]:
        """The new prompt, or (True) the one a concurrent request with the same key created first."""
        generation = self.services.generation
        stored = await self.store_references(user_id, uploads)
        try:
            if stored:
                refs = self.services.references
                assert refs is not None
                req = self.validated(fields, [await refs.url_for(user_id, key) for key in stored])
            prompt = await generation.create(user_id, req, idempotency_key=idempotency_key, fingerprint=fingerprint)
            if prompt.request_fingerprint != fingerprint:  # a concurrent request with this key won the race
                generation.check_replay(prompt, req, fingerprint)
                await self.discard_references(user_id, stored)  # the winner's references are the ones in use
                return prompt, True
        except NanogenError:
            await self.discard_references(user_id, stored)
            raise
        return prompt, False

    async def store_references(self, user_id: int, uploads: list[bytes]) -> list[str]:
        refs = self.services.references
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
            await self.discard_references(user_id, stored)
            raise
        return stored

    async def discard_references(self, user_id: int, keys: list[str]) -> None:
        for key in keys:
            try:
                await self.services.references.discard(user_id, key)  # type: ignore[union-attr]
            except NanogenError:
                log.warning('could not remove an unused reference image of user %s', user_id)

    async def wait_for(self, user_id: int, prompt_id: int, seconds: float) -> Prompt:
        """Wake on the prompt's own events; re-read the row each second too, in case an event was missed."""
        changed = asyncio.Event()

        def on_event(event: PromptEvent) -> None:
            if event.prompt_id == prompt_id:
                changed.set()
        unsubscribe = self.services.bus.subscribe(on_event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while True:
                prompt = await self.services.library.get_prompt(user_id, prompt_id)
                remaining = deadline - loop.time()
                if Status(prompt.status).finished or remaining <= 0:
                    return prompt
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=min(1.0, remaining))
                changed.clear()
        finally:
            unsubscribe()
