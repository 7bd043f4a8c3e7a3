"""The generation service: durable jobs from prompt to stored image, by callback or polling, with events.

A prompt row is the job. Its life: PENDING (recorded) -> PROCESSING (submitted, provider task id saved) ->
COMPLETED / FAILED / CANCELLED. Every step is committed before the next begins, so a restart resumes from the
database: `start()` claims every unfinished prompt whose lease has lapsed and drives it on. A lease
(lease_owner, lease_expires_at) keeps two replicas from driving the same prompt.

Long because: the hand-written lease engine (claim, renew, release, housekeeping) is replaced as a whole by the job
engine of issue 14; its row writes are already in `store.py`, and splitting the rest first would move code that is
about to go.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, func, select

from nanogen import retrying
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import (
    AuthError,
    ImageError,
    InvalidInput,
    NotFound,
    ProviderError,
    ProviderRejected,
    RateLimited,
    StorageError,
)
from nanogen.events import EventBus, PromptEvent
from nanogen.generation.idempotency import same_request_or_conflict
from nanogen.generation.requests import GenerationRequest
from nanogen.generation.results import ResultSaver
from nanogen.generation.store import PromptRows
from nanogen.generation.wakeups import Wakeups
from nanogen.images.storage import Storage
from nanogen.logs import current_prompt_id
from nanogen.models import UNFINISHED, Prompt, Status, utcnow
from nanogen.provider.client import (
    PROVIDER_SIDE,
    GenerateRequest,
    NanobananaClient,
    TaskRecord,
    TaskState,
    task_failed_message,
)
from nanogen.retrying import DB_UNAVAILABLE

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=45)
SAVE_TASK_ID_BACKOFF = retrying.Backoff(0.5, 10.0)


def _by_key(user_id: int, key: str) -> Any:
    return select(Prompt).where(col(Prompt.user_id) == user_id, col(Prompt.idempotency_key) == key)


def _db_reason(exc: Exception) -> str:
    return type(getattr(exc, 'orig', None) or exc).__name__


@dataclass
class _Job:
    task: asyncio.Task[None]
    wake: asyncio.Event


class GenerationService:
    def __init__(self, *, db: Database, client: NanobananaClient, storage: Storage, bus: EventBus,
                 settings: Settings, secret_key: str, worker_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 budget_check: Callable[[Session, int, Decimal], None] | None = None,
                 remote_wake: Callable[[int], Awaitable[None]] | None = None, wakeups: Wakeups | None = None,
                 housekeeping_interval_s: float = LEASE.total_seconds() / 3) -> None:
        self.db = db
        self.client = client
        self.storage = storage
        self.bus = bus
        self.settings = settings
        self.worker_id = worker_id or uuid.uuid4().hex[:16]
        self.clock = clock
        self.budget_check = budget_check
        self.results = ResultSaver(client=client, storage=storage, db=db, settings=settings)
        self.rows = PromptRows(db, clock)
        self.housekeeping_interval_s = housekeeping_interval_s  # drills shorten it to see recovery sooner
        self._signer = URLSafeSerializer(secret_key, salt='nanogen.callback')
        self._jobs: dict[int, _Job] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._stopping = False
        # Wakes the replica that drives a prompt when a callback reached this one instead (the relay's `wake`).
        self.remote_wake = remote_wake
        if wakeups is not None:  # the relay reaches this process's jobs through the hub (see generation/wakeups.py)
            wakeups.serve(self.wake_local)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Resume every unfinished prompt, then keep leases fresh and adopt orphans of dead replicas."""
        self._stopping = False
        await self.resume_unfinished()
        self._spawn(self._housekeeping())

    async def stop(self) -> None:
        """Stop driving jobs but leave them resumable: their rows stay PENDING/PROCESSING, leases released."""
        self._stopping = True
        ids = list(self._jobs)
        tasks = [job.task for job in self._jobs.values()] + list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        if ids:
            def release(s: Session) -> None:
                s.execute(sa.update(Prompt).where(col(Prompt.id).in_(ids), col(Prompt.lease_owner) == self.worker_id)
                          .values(lease_owner=None, lease_expires_at=None))
                s.commit()
            await self.db.write(release)

    async def resume_unfinished(self) -> int:
        def find(s: Session) -> list[int]:
            now = self.clock()
            rows = s.exec(select(Prompt.id).where(col(Prompt.status).in_(UNFINISHED)).where(
                sa.or_(col(Prompt.lease_owner).is_(None), col(Prompt.lease_owner) == self.worker_id,
                       col(Prompt.lease_expires_at) < now)).order_by(col(Prompt.id)))
            return [i for i in rows if i is not None]
        ids = await self.db.run(find)
        started = 0
        for prompt_id in ids:
            if prompt_id not in self._jobs and await self._claim(prompt_id):
                self._drive_in_background(prompt_id)
                started += 1
        if started:
            log.info('resumed %d unfinished generation(s)', started)
        return started

    @property
    def in_flight(self) -> int:
        return len(self._jobs)

    # ------------------------------------------------------------------ commands
    async def create(self, user_id: int, req: GenerationRequest, *, idempotency_key: str | None = None,
                     fingerprint: str | None = None) -> Prompt:
        """Record the prompt (PENDING) and start driving it; returns at once."""
        estimate = req.estimated_cost(self.settings)

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
            if self.budget_check:
                self.budget_check(s, user_id, estimate)
            now = self.clock()
            prompt = Prompt(user_id=user_id, prompt=req.prompt, task_type=req.task_type.value, image_size=req.size,
                            aspect_ratio=req.aspect_ratio, num_images=req.num_images, watermark=req.watermark,
                            reference_urls=json.dumps(list(req.reference_urls)) if req.reference_urls else None,
                            estimated_cost=estimate, status=Status.PENDING.value, idempotency_key=idempotency_key,
                            request_fingerprint=fingerprint,
                            lease_owner=self.worker_id, lease_expires_at=now + LEASE, created_at=now, updated_at=now)
            s.add(prompt)
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
            prompt, created = await asyncio.to_thread(work)
        except sa.exc.IntegrityError:  # a concurrent retry with the same idempotency key won the race
            found = await self.find_by_idempotency_key(user_id, idempotency_key) if idempotency_key else None
            if found is None:
                raise
            return found
        if created:
            assert prompt.id is not None
            log.info('prompt %s created by user %s', prompt.id, user_id)
            self._publish(prompt, 'Queued')
            self._drive_in_background(prompt.id)
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
            prompt.cost = prompt.estimated_cost if prompt.provider_task_id else Decimal(0)
            prompt.updated_at = prompt.completed_at = self.clock()
            prompt.lease_owner = None
            s.add(prompt)
            s.commit()
            return prompt
        prompt = await self.db.write(work)
        job = self._jobs.get(prompt_id)
        if job:
            job.task.cancel()
        log.info('prompt %s cancelled', prompt_id)
        self._publish(prompt, 'Cancelled')
        return prompt

    async def retry(self, user_id: int, prompt_id: int) -> Prompt:
        """Start a new generation with the same settings as an ended one."""
        old = await self.db.run(lambda s: s.get(Prompt, prompt_id))
        if old is None or old.user_id != user_id:
            raise NotFound('That generation does not exist.')
        req = GenerationRequest(prompt=old.prompt, size=old.image_size, aspect_ratio=old.aspect_ratio,
                                num_images=old.num_images, watermark=old.watermark,
                                reference_urls=tuple(json.loads(old.reference_urls or '[]')))
        return await self.create(user_id, req)

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
        """A callback only wakes the job; record-info confirms before anything is marked done."""
        prompt_id = self.callback_prompt_id(token)
        notice = NanobananaClient.parse_callback(body)  # ProviderBadResponse -> 400 at the edge
        prompt = await self.db.run(lambda s: s.get(Prompt, prompt_id))
        if prompt is None or prompt.provider_task_id != notice.task_id:
            log.warning('callback for prompt %s does not match its task; ignored', prompt_id)
            raise NotFound('Unknown task.')
        if Status(prompt.status).finished:
            log.info('late or duplicate callback for prompt %s ignored', prompt_id)
            return
        if self.wake_local(prompt_id):
            return
        if await self._claim(prompt_id):  # its driver is gone (lease lapsed): adopt it here
            self._drive_in_background(prompt_id, woken=True)
        elif self.remote_wake is not None:  # another replica drives it: tell that one
            await self.remote_wake(prompt_id)

    def wake_local(self, prompt_id: int) -> bool:
        """Make a job driven by this process check its task now; False when this process does not drive it."""
        job = self._jobs.get(prompt_id)
        if job:
            job.wake.set()
        return job is not None

    # ------------------------------------------------------------------ the job
    def _drive_in_background(self, prompt_id: int, *, woken: bool = False) -> None:
        if self._stopping or prompt_id in self._jobs:
            return
        wake = asyncio.Event()
        if woken:
            wake.set()
        task = asyncio.create_task(self._drive(prompt_id, wake), name=f'generation-{prompt_id}')
        self._jobs[prompt_id] = _Job(task, wake)
        task.add_done_callback(lambda _t: self._jobs.pop(prompt_id, None))

    async def _drive(self, prompt_id: int, wake: asyncio.Event) -> None:
        current_prompt_id.set(prompt_id)  # this task's own context: every log line of the job carries its id
        try:
            prompt = await self.db.run(lambda s: s.get(Prompt, prompt_id))
            if prompt is None or Status(prompt.status).finished:
                return
            if not prompt.provider_task_id:
                prompt = await self._submit(prompt)
                if prompt is None:
                    return
            await self._wait_and_finish(prompt, wake)
        except asyncio.CancelledError:
            raise
        except DB_UNAVAILABLE as exc:  # database away or busy: leave the job as it is, housekeeping resumes it
            log.warning('prompt %s paused: database unavailable (%s); it will be resumed', prompt_id,
                        _db_reason(exc))
        except Exception as exc:  # the last line of defence: the job ends FAILED with a message, never vanishes
            log.warning('prompt %s failed unexpectedly: %r', prompt_id, exc, exc_info=True)
            await self._fail(prompt_id, 'Something went wrong on our side while generating. Try again.')

    async def _submit(self, prompt: Prompt) -> Prompt | None:
        assert prompt.id is not None
        pid = prompt.id
        await self.rows.update(pid, submit_attempts=prompt.submit_attempts + 1)
        request = GenerateRequest(prompt=prompt.prompt, callback_url=self.callback_url(pid),
                                  num_images=prompt.num_images, aspect_ratio=prompt.aspect_ratio,
                                  image_urls=tuple(json.loads(prompt.reference_urls or '[]')),
                                  watermark=prompt.watermark)
        deadline = prompt.created_at + timedelta(seconds=self.settings.generation_timeout_s)
        # Still unavailable after the client's own retries: keep trying until the deadline.
        backoff = retrying.Backoff(self.settings.poll_initial_s, self.settings.poll_max_s * 4, jitter='spread')

        def before_sleep(state: retrying.RetryCallState) -> None:
            exc = retrying.failure(state)
            assert isinstance(exc, ProviderError)
            delay = backoff.nominal(state.attempt_number)
            self._publish_message(prompt, f'{exc.user_message} Retrying in {int(delay)} s.')

        async def give_up(state: retrying.RetryCallState) -> None:
            exc = retrying.failure(state)
            assert isinstance(exc, ProviderError)
            await self._fail(pid, f'{exc.user_message} We gave up after '
                                  f'{int(self.settings.generation_timeout_s // 60)} minutes. '
                                  f'{PROVIDER_SIDE}; you were not charged. Press Retry later.')

        retryer = retrying.retrying(retry_if=retrying.provider_may_succeed_later, backoff=backoff,
                                    deadline=lambda: (deadline - self.clock()).total_seconds(),
                                    before_sleep=before_sleep, give_up=give_up)
        try:
            task_id: str | None = await retryer(self.client.submit, request)
        except ProviderError as exc:
            # Rejected, or the answer was lost: the task may exist and be billed, so it is never resent.
            await self._fail(pid, exc.user_message)
            return None
        if task_id is None:  # gave up at the deadline (give_up has failed the prompt)
            return None
        updated = await self._save_task_id(pid, task_id)
        if updated is None:
            return None
        log.info('prompt %s submitted as task %s', pid, task_id)
        self._publish(updated, 'Generating')
        return updated

    async def _save_task_id(self, pid: int, task_id: str) -> Prompt | None:
        """The provider has accepted (and billed) the task: its id must reach the database, or a resume would submit
        the prompt again. So a busy or restarting database is waited out here instead of pausing the job."""
        async def save() -> Prompt | None:
            # Conditional on PENDING inside the write lock: a cancel that lands meanwhile wins.
            return await self.rows.update(pid, expect_status=Status.PENDING.value, provider_task_id=task_id,
                                      status=Status.PROCESSING.value, submitted_at=self.clock())

        def before_sleep(state: retrying.RetryCallState) -> None:
            exc = retrying.failure(state)
            assert isinstance(exc, Exception)
            log.warning('prompt %s: task %s accepted but not saved yet (database unavailable: %s); retrying in '
                        '%.1f s', pid, task_id, _db_reason(exc), state.upcoming_sleep)

        retryer = retrying.retrying(retry_if=retrying.database_unavailable, backoff=SAVE_TASK_ID_BACKOFF,
                                    before_sleep=before_sleep)
        saved: Prompt | None = await retryer(save)
        return saved

    async def _wait_and_finish(self, prompt: Prompt, wake: asyncio.Event) -> None:
        assert prompt.id is not None and prompt.provider_task_id
        pid, task_id = prompt.id, prompt.provider_task_id
        started = prompt.submitted_at or prompt.created_at
        deadline = started + timedelta(seconds=self.settings.generation_timeout_s)
        # With callbacks, polling is only the safety net for a callback that never comes.
        interval = self.settings.poll_max_s if self.settings.public_url else self.settings.poll_initial_s
        while True:
            remaining = (deadline - self.clock()).total_seconds()
            if remaining <= 0:
                minutes = max(1, round(self.settings.generation_timeout_s / 60))
                await self._fail(pid, f'The provider did not finish within {minutes} minutes. {PROVIDER_SIDE}; '
                                      'you were not charged. Press Retry later.')
                return
            try:
                await asyncio.wait_for(wake.wait(), timeout=min(interval, remaining))
            except TimeoutError:
                pass
            wake.clear()
            if await self.rows.status(pid) != Status.PROCESSING.value:
                return  # cancelled (or finished elsewhere)
            try:
                record = await self.client.record_info(task_id)
            except ProviderRejected as exc:
                await self._fail(pid, exc.user_message)
                return
            except ProviderError as exc:
                self._publish_message(prompt, f'{exc.user_message} Checking again in {int(interval)} s.')
                interval = min(interval * 1.5, self.settings.poll_max_s)
                continue
            if record.state is TaskState.GENERATING:
                interval = min(interval * 1.5, self.settings.poll_max_s)
                continue
            await self.rows.update(pid, response_data=json.dumps(record.raw, default=str)[:20000])
            if record.state is TaskState.SUCCESS:
                await self._complete(prompt, record)
            else:
                await self._fail(pid, task_failed_message(record.error_code, record.error_message))
            return

    async def _complete(self, prompt: Prompt, record: TaskRecord) -> None:
        assert prompt.id is not None
        pid = prompt.id
        if not record.result_urls and not record.origin_urls:
            await self._fail(pid, 'The provider reported success but sent no image. Try again.')
            return
        try:
            processed = await self.results.process(prompt, record)
        except (ProviderError, ImageError) as exc:
            await self._fail(pid, f'{exc.user_message} The provider billed this attempt.', billed=True)
            return
        try:
            keys = await self.results.store(prompt, processed, lambda text: self._publish_message(prompt, text))
        except StorageError as exc:
            await self._fail(pid, f'{exc.user_message} The image could not be saved; try again.', billed=True)
            return
        saved = await self.rows.complete(pid, processed, keys, self.settings.price_for)
        if saved is None:  # cancelled while we were downloading: drop what we stored
            await self.results.discard(keys)
            return
        done, ids = saved
        log.info('prompt %s completed with %d image(s) in %s ms', pid, len(processed), done.duration_ms)
        self._publish(done, 'Done', image_ids=ids)

    # ------------------------------------------------------------------ persistence
    async def _fail(self, pid: int, message: str, *, billed: bool = False) -> None:
        row = await self.rows.fail(pid, message, billed=billed)
        if row is not None:
            log.warning('prompt %s failed: %s', pid, message)
            self._publish(row, message)

    async def _claim(self, pid: int) -> bool:
        def work(s: Session) -> bool:
            now = self.clock()
            result = s.execute(sa.update(Prompt).where(
                col(Prompt.id) == pid, col(Prompt.status).in_(UNFINISHED),
                sa.or_(col(Prompt.lease_owner).is_(None), col(Prompt.lease_owner) == self.worker_id,
                       col(Prompt.lease_expires_at) < now)).values(
                lease_owner=self.worker_id, lease_expires_at=now + LEASE))
            s.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]
        return await self.db.write(work)

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.housekeeping_interval_s)
            try:
                ids = list(self._jobs)
                if ids:
                    def renew(s: Session, ids: list[int] = ids) -> None:
                        s.execute(sa.update(Prompt).where(col(Prompt.id).in_(ids),
                                                          col(Prompt.lease_owner) == self.worker_id)
                                  .values(lease_expires_at=self.clock() + LEASE))
                        s.commit()
                    await self.db.write(renew)
                await self.resume_unfinished()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away; try again next round
                log.warning('generation housekeeping failed; will retry', exc_info=True)

    # ------------------------------------------------------------------ events
    def _publish(self, prompt: Prompt, message: str, image_ids: tuple[int, ...] = ()) -> None:
        assert prompt.id is not None
        self.bus.publish(PromptEvent(user_id=prompt.user_id, prompt_id=prompt.id, status=prompt.status,
                                     message=message, image_ids=image_ids))

    def _publish_message(self, prompt: Prompt, message: str) -> None:
        self._publish(prompt, message)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
