"""The generation service: record a prompt, hand its steps to the job engine, cancel, retry, take callbacks.

A prompt row is the job and its state machine: PENDING (recorded) -> PROCESSING (submitted, provider task id saved) ->
COMPLETED / FAILED / CANCELLED. The steps that move it (`generation/steps.py`) run as procrastinate jobs
(`generation/engine.py`): on any worker of the cluster, retried when their worker dies, fenced by claims. This
module is what pages and the API call; it never drives a job itself.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, func, select

from nanogen import pools
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import AuthError, InvalidInput, NotFound, RateLimited
from nanogen.events import EventBus, PromptEvent
from nanogen.generation.catalogue import saved_task_ids, task_estimate
from nanogen.generation.engine import JobEngine
from nanogen.generation.idempotency import same_request_or_conflict
from nanogen.generation.requests import GenerationRequest, retry_request
from nanogen.generation.results import ResultSaver
from nanogen.generation.steps import RefreshReferences, Steps
from nanogen.generation.store import FinalHook, PromptRows
from nanogen.images.storage import Storage
from nanogen.models import UNFINISHED, Prompt, Status, utcnow
from nanogen.provider.client import NanobananaClient

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 5  # the resume and timeout sweeps


def _by_key(user_id: int, key: str) -> Any:
    return select(Prompt).where(col(Prompt.user_id) == user_id, col(Prompt.idempotency_key) == key)


class GenerationService:
    def __init__(self, *, db: Database, client: NanobananaClient, storage: Storage, bus: EventBus,
                 settings: Settings, secret_key: str, worker_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 budget_check: Callable[[Session, int, Decimal], None] | None = None,
                 request_check: Callable[[Session, int, Any], None] | None = None,
                 engine: JobEngine | None = None, on_final: FinalHook | None = None,
                 refresh_references: RefreshReferences | None = None) -> None:
        self.db = db
        self.client = client
        self.storage = storage
        self.bus = bus
        self.settings = settings
        self.worker_id = worker_id or 'nanogen'
        self.clock = clock
        self.budget_check = budget_check
        self.engine = engine or JobEngine(db=db, settings=settings, name=self.worker_id)
        self.request_check = request_check  # issue 16: the groups' model/resolution allow-lists, same transaction
        self.results = ResultSaver(client=client, storage=storage, db=db, settings=settings)
        self.rows = PromptRows(db, clock, on_final)  # on_final: webhooks' deliveries, in the final transaction
        self._signer = URLSafeSerializer(secret_key, salt='nanogen.callback')
        self.steps = Steps(engine=self.engine, rows=self.rows, client=client, results=self.results, settings=settings,
                           callback_url=self.callback_url, publish=self._publish,
                           refresh_references=refresh_references)
        self.engine.periodic('resume', SWEEP_EVERY_S, self.steps.resume)
        self.engine.periodic('timeouts', SWEEP_EVERY_S, self.steps.fail_timed_out)
        self.engine.periodic('retry-stalled', max(1, round(settings.worker_heartbeat_s)), self.engine.retry_stalled)
        self._drain_deadline: float | None = None  # time.monotonic() by which a drain under way ends
        self._active: set[int] = set()  # unfinished prompts this process has seen move (the in-flight gauge)
        bus.subscribe(self._track)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, worker: bool = True) -> None:
        """Open the job engine; with `worker`, resume every unfinished prompt that lost its job and run steps."""
        await self.engine.open()
        if worker:
            await self.resume_unfinished()
            await self.engine.start_worker()

    async def drain(self) -> None:
        """No new step starts here; running ones end (submits are shielded, so their task ids are saved), bounded by
        NANOGEN_SHUTDOWN_GRACE counted from the first call. The job queue stays open for deferring. Rows left
        PENDING/PROCESSING stay resumable; their jobs stay queued (PostgreSQL) or are re-seeded at start."""
        if self._drain_deadline is None:
            self._drain_deadline = time.monotonic() + self.settings.shutdown_grace_s
        await self.engine.stop_worker()
        await self.steps.drain(self._drain_deadline - time.monotonic())

    async def stop(self) -> None:
        """Drain (if SIGTERM has not already), then close the job queue."""
        await self.drain()
        await self.engine.stop()
        self._drain_deadline = None

    @property
    def draining(self) -> bool:
        return self.engine.draining

    async def resume_unfinished(self) -> int:
        return await self.steps.resume()

    @property
    def in_flight(self) -> int:
        return len(self._active)

    def _track(self, event: PromptEvent) -> None:
        if Status(event.status).finished:
            self._active.discard(event.prompt_id)
        elif not event.relayed:
            self._active.add(event.prompt_id)

    # ------------------------------------------------------------------ commands
    async def create(self, user_id: int, req: GenerationRequest, *, idempotency_key: str | None = None,
                     fingerprint: str | None = None) -> Prompt:
        """Record the prompt (PENDING) and start driving it; returns at once."""
        estimate = req.estimated_cost(self.settings)
        deferred = {'in_tx': False}

        def insert(s: Session) -> tuple[Prompt, bool]:
            if idempotency_key:
                existing = s.exec(_by_key(user_id, idempotency_key)).first()
                if existing:
                    return existing, False
            running = s.exec(select(func.count()).select_from(Prompt).where(
                col(Prompt.user_id) == user_id, col(Prompt.status).in_(UNFINISHED))).one()
            if running >= self.settings.max_concurrent_per_user:
                raise RateLimited(f'You already have {running} generations running: wait for one to finish.',
                                  retry_after=5)
            if self.request_check:
                self.request_check(s, user_id, req)
            if self.budget_check:
                self.budget_check(s, user_id, estimate)
            now = self.clock()
            prompt = Prompt(user_id=user_id, prompt=req.prompt, task_type=req.task_type.value, image_size=req.size,
                            aspect_ratio=req.aspect_ratio, num_images=req.num_images, watermark=req.watermark,
                            model=req.model, resolution=req.resolution, google_search=req.google_search,
                            output_format=req.output_format, source_image_id=req.source_image_id,
                            reference_urls=json.dumps(list(req.reference_urls)) if req.reference_urls else None,
                            estimated_cost=estimate, status=Status.PENDING.value, idempotency_key=idempotency_key,
                            request_fingerprint=fingerprint, created_at=now, updated_at=now)
            s.add(prompt)
            s.flush()
            assert prompt.id is not None
            deferred['in_tx'] = self.engine.defer_in(s, 'submit', prompt.id)  # commits with the row (PostgreSQL)
            s.commit()
            s.refresh(prompt)
            return prompt, True

        # The write lock makes the concurrency and budget checks atomic with the insert.
        def work() -> tuple[Prompt, bool]:
            with self.db.write_lock_session() as s:
                if not self.db.is_sqlite:
                    s.execute(sa.text('SELECT id FROM users WHERE id = :id FOR UPDATE'), {'id': user_id})
                return insert(s)

        try:
            prompt, created = await pools.in_db(work)  # the database's own bounded pool, as every DB call
        except sa.exc.IntegrityError:  # a concurrent retry with the same idempotency key won the race
            found = await self.find_by_idempotency_key(user_id, idempotency_key) if idempotency_key else None
            if found is None:
                raise
            return found
        if created:
            assert prompt.id is not None
            log.info('prompt %s created by user %s', prompt.id, user_id)
            self._publish(prompt, 'Queued')
            if not deferred['in_tx']:  # SQLite: the in-process queue, right after the commit
                await self.engine.defer('submit', prompt.id)
        return prompt

    async def find_by_idempotency_key(self, user_id: int, key: str) -> Prompt | None:
        """The prompt this user already created with this Idempotency-Key, if any."""
        return await self.db.run(lambda s: s.exec(_by_key(user_id, key)).first())

    def check_replay(self, existing: Prompt, req: GenerationRequest, fingerprint: str | None) -> None:
        """Conflict (409) when `existing` was created with the same key for a different request."""
        same_request_or_conflict(existing, req, fingerprint)

    async def cancel(self, user_id: int, prompt_id: int) -> Prompt:
        def work(s: Session) -> Prompt:
            prompt = s.get(Prompt, prompt_id, with_for_update=True)
            if prompt is None or prompt.user_id != user_id:
                raise NotFound('That generation does not exist.')
            if Status(prompt.status).finished:
                raise InvalidInput(f'That generation has already ended ({prompt.status.lower()}).', field='status')
            prompt.status = Status.CANCELLED.value
            prompt.error_message = 'Cancelled by you.'
            # Once submitted, the provider works (and bills) regardless; say so in the cost.
            # (a prompt of several one-image tasks: each task accepted so far).
            prompt.cost = task_estimate(prompt) * (len(saved_task_ids(prompt)) + prompt.suspect_submits)
            prompt.updated_at = prompt.completed_at = self.clock()
            prompt.claim_token = None  # any step still running for it has lost its claim: it writes nothing
            s.add(prompt)
            s.commit()
            return prompt
        prompt = await self.db.write(work)
        log.info('prompt %s cancelled', prompt_id)
        self._publish(prompt, 'Cancelled')
        return prompt

    async def retry(self, user_id: int, prompt_id: int, *, model: str | None = None) -> Prompt:
        """Start a new generation with the same settings as an ended one; an edit retried is still a version of its
        source. `model`: the same prompt with another model (its 'Try <model>' after a model was down), keeping the
        count, resolution or size, ratio and options wherever the new model has them (its defaults otherwise)."""
        old = await self.db.run(lambda s: s.get(Prompt, prompt_id))
        if old is None or old.user_id != user_id:
            raise NotFound('That generation does not exist.')
        req = retry_request(self.settings, old, model)
        return await self.create(user_id, replace(req, source_image_id=old.source_image_id))

    # ------------------------------------------------------------------ callbacks
    def callback_url(self, prompt_id: int) -> str:
        token = self._signer.dumps({'p': prompt_id})
        # Without a public URL nobody can call us back; the field is still required, so it names a dead host.
        base = self.settings.public_url or 'https://callbacks-disabled.invalid'
        return f'{base}/api/provider/callback/{token}'

    def callback_prompt_id(self, token: str) -> int:
        """The prompt a callback token was signed for; AuthError for anything else (cheap: no I/O)."""
        try:
            data = self._signer.loads(token)
            return int(data['p'])
        except (BadSignature, KeyError, TypeError, ValueError):
            log.warning('refused a callback with a bad token')
            raise AuthError('Invalid callback token.') from None

    async def handle_callback(self, token: str, body: object) -> None:
        """A callback defers the finish step at once, on whichever worker is free (a queueing lock per prompt
        collapses duplicates); the step confirms with record-info before anything is marked done."""
        prompt_id = self.callback_prompt_id(token)
        notice = NanobananaClient.parse_callback(body)  # ProviderBadResponse -> 400 at the edge
        prompt = await self.db.run(lambda s: s.get(Prompt, prompt_id))
        if prompt is None or notice.task_id not in saved_task_ids(prompt):
            log.warning('callback for prompt %s does not match its task; ignored', prompt_id)
            raise NotFound('Unknown task.')
        self.steps.callback_arrived()  # signed, for a task of ours: callbacks reach this process
        if Status(prompt.status).finished:
            log.info('late or duplicate callback for prompt %s ignored', prompt_id)
            return
        if not await self.engine.defer('finish', prompt_id):
            await self.engine.run_sooner('finish', prompt_id)

    # ------------------------------------------------------------------ events
    def _publish(self, prompt: Prompt, message: str, image_ids: tuple[int, ...] = ()) -> None:
        assert prompt.id is not None
        self.bus.publish(PromptEvent(user_id=prompt.user_id, prompt_id=prompt.id, status=prompt.status,
                                     message=message, image_ids=image_ids))
