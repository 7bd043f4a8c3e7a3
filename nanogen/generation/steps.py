"""The steps of a generation, each an idempotent function of its prompt row run as a procrastinate job.

submit (PENDING -> PROCESSING), check (poll record-info; re-deferred with a growing `schedule_in`), finish (a
callback's check: confirm, download, store, COMPLETED), plus the sweeps run as periodic tasks. Each begins with a
compare-and-set on the row's status (and, where it writes, takes the row's claim: see `store.py`), so a step that
runs twice, or a stalled one retried elsewhere, has no second effect and a loser writes nothing.

Billing: the submit attempt is counted (`submit_attempts`) before the request goes out, and the request plus the
saving of its task id run shielded from cancellation (a graceful stop lets them end). A submit step that finds an
earlier attempt counted but no task id saved (a crash between the provider accepting and the id being saved)
resubmits, and says so: `suspect_submits` + 1 (its estimate is added to the prompt's cost), a WARNING, and the
`nanogen_suspect_submits` metric. Never silent.

Long because: the submit's retry policy (the generation deadline, the short bounded wait for a model in maintenance
and what the live line says meanwhile) sits beside the attempt counting it must not disturb.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from procrastinate.exceptions import ConnectorException

from nanogen import retrying
from nanogen.config import Settings
from nanogen.errors import ImageError, NanogenError, ProviderError, ProviderRejected, StorageError
from nanogen.generation.billing import billing_columns, tasks_cost, unit_cost
from nanogen.generation.catalogue import saved_task_ids, task_count
from nanogen.generation.engine import JobEngine
from nanogen.generation.refusals import (
    DOWN_CODES,
    model_down_message,
    model_maintenance_message,
    submit_failure,
    task_failure,
)
from nanogen.generation.results import ResultSaver
from nanogen.generation.store import Claim, PromptRows
from nanogen.generation.sweeps import Sweeps
from nanogen.logs import current_prompt_id
from nanogen.models import Prompt, Status
from nanogen.provider.client import PROVIDER_SIDE, GenerateRequest, NanobananaClient, TaskRecord, TaskState
from nanogen.retrying import DB_UNAVAILABLE

# The database (or the job queue in it) is away: the step pauses and the resume sweep picks the prompt up again.
PAUSE = (*DB_UNAVAILABLE, ConnectorException)

log = logging.getLogger(__name__)
SAVE_TASK_ID_BACKOFF = retrying.Backoff(0.5, 10.0)
Publish = Callable[[Prompt, str, tuple[int, ...]], None]
RefreshReferences = Callable[[int, tuple[str, ...]], Awaitable[tuple[str, ...]]]

# With callbacks arriving (one in the last CALLBACKS_HEALTHY_S), the safety-net check runs SAFETY_NET_FACTOR times
# less often: at 500 in flight a 15 s net was 33 record-info calls a second, competing with the finishes.
CALLBACKS_HEALTHY_S = 300.0
SAFETY_NET_FACTOR = 4


class _Lost(Exception):
    """This execution no longer holds the prompt (cancelled, or claimed by another): stop, write nothing."""


@dataclass
class _Run:
    """What a check/finish execution writes under: the claim token it read on the row, then its finish's own (every
    write compares it, so an execution another has claimed past writes nothing). Not `read`: nothing to fence with."""
    read: bool = False
    token: str | None = None


class Steps(Sweeps):
    def __init__(self, *, engine: JobEngine, rows: PromptRows, client: NanobananaClient, results: ResultSaver,
                 settings: Settings, callback_url: Callable[[int], str], publish: Publish,
                 refresh_references: RefreshReferences | None = None) -> None:
        self.engine, self.rows, self.client, self.results = engine, rows, client, results
        self.settings, self.callback_url, self.publish = settings, callback_url, publish
        self.provider_slots = asyncio.Semaphore(settings.provider_concurrency)
        self.suspect_submits = 0  # this process's resubmits after a lost task id (a metric)
        self._shielded: set[asyncio.Task[None]] = set()
        # Re-signs the prompt's own reference URLs just before they are sent (bootstrap passes the reference store's).
        self.refresh_references = refresh_references
        self.last_callback_at: float | None = None  # time.monotonic() of this process's last genuine callback
        self.monotonic: Callable[[], float] = time.monotonic
        engine.step('submit', self.submit)
        engine.step('check', self.check)
        engine.step('finish', self.finish)

    def _say(self, prompt: Prompt, message: str) -> None:
        self.publish(prompt, message, ())

    # ------------------------------------------------------------------ submit
    async def submit(self, prompt_id: int) -> None:
        current_prompt_id.set(prompt_id)
        try:
            prompt = await self.rows.get(prompt_id)
            if prompt is None or prompt.status != Status.PENDING.value:
                return  # ran twice, cancelled, or already submitted: nothing to do
            claim = await self.rows.claim(prompt_id, Status.PENDING.value, submit_seen=prompt.submit_attempts)
            if claim is None:
                return
            if prompt.submit_attempts > len(saved_task_ids(prompt)):  # an attempt counted whose id was never saved
                await self._flag_suspect(claim)
            task = asyncio.create_task(self._send_and_save(claim), name=f'submit-{prompt_id}')
            self._shielded.add(task)
            task.add_done_callback(self._shielded.discard)
            await asyncio.shield(task)  # a stop lets the request and the saving of its task id end
        except PAUSE as exc:
            log.warning('prompt %s paused: database unavailable (%s); it will be resumed', prompt_id, type(exc).__name__)

    async def _flag_suspect(self, claim: Claim) -> None:
        prompt = claim.prompt
        assert prompt.id is not None
        await self.rows.update(prompt.id, claim=claim.token, suspect_submits=prompt.suspect_submits + 1)
        self.suspect_submits += 1
        log.warning('prompt %s: an earlier submit may have been accepted (and billed) by the provider without its task '
                    'id being saved; submitting again and counting the possible extra charge in its cost', prompt.id)

    async def _send_and_save(self, claim: Claim) -> None:
        """Submit the prompt's task, or each of its one-image tasks not saved yet (a model without numImages asked for
        several images): every attempt is counted before its request, every id saved before the next goes out."""
        prompt, pid = claim.prompt, claim.prompt.id
        assert pid is not None
        total = task_count(prompt.model, prompt.num_images)
        ids = saved_task_ids(prompt)
        first = True
        while len(ids) < total:
            if not first and await self.rows.count_attempt(pid, claim.token) is None:
                log.info('prompt %s: submit stopped after %d of %d tasks (cancelled or claimed elsewhere)', pid,
                         len(ids), total)
                return
            first = False
            try:
                task_id = await self._send(claim)
            except _Lost:
                log.info('prompt %s: submit stopped (cancelled or claimed elsewhere)', pid)
                return
            except ProviderError as exc:
                # Rejected, or the answer was lost: the task may exist and be billed, so it is never resent.
                if ids:  # the tasks already accepted still make their images
                    log.warning('prompt %s: task %d of %d not submitted (%s); going on with %d', pid, len(ids) + 1,
                                total, exc.user_message, len(ids))
                    break
                await self._fail(pid, submit_failure(self.settings, prompt.model, exc), claim=claim.token)
                return
            if task_id is None:  # gave up at the deadline (give_up has failed the prompt)
                return
            ids.append(task_id)
            if len(ids) < total:
                if await self._save_task_id(pid, claim.token, ids, final=False) is None:
                    log.warning('prompt %s: task %s accepted but the prompt was cancelled or claimed meanwhile', pid,
                                task_id)
                    return
                log.info('prompt %s: task %d of %d submitted as %s', pid, len(ids), total, task_id)
        updated = await self._save_task_id(pid, claim.token, ids, final=True)
        if updated is None:
            log.warning('prompt %s: task %s accepted but the prompt was cancelled or claimed meanwhile', pid, ids[-1])
            return
        log.info('prompt %s submitted as task %s', pid, ', '.join(ids))
        self._say(updated, 'Generating')
        await self.engine.defer('check', pid, delay_s=self.first_interval(), interval=self.first_interval())

    async def _reference_urls(self, prompt: Prompt) -> tuple[str, ...]:
        urls = tuple(json.loads(prompt.reference_urls or '[]'))
        if not urls or self.refresh_references is None:
            return urls
        try:
            return await self.refresh_references(prompt.user_id, urls)
        except NanogenError as exc:  # storage cannot presign just now: the stored URLs may still be valid
            log.warning('prompt %s: reference URLs not renewed (%s)', prompt.id, exc.user_message)
            return urls

    async def _send(self, claim: Claim) -> str | None:
        prompt, pid = claim.prompt, claim.prompt.id
        assert pid is not None
        one_per_task = task_count(prompt.model, prompt.num_images) > 1
        request = GenerateRequest(prompt=prompt.prompt, callback_url=self.callback_url(pid),
                                  num_images=1 if one_per_task else prompt.num_images, aspect_ratio=prompt.aspect_ratio,
                                  image_urls=await self._reference_urls(prompt),
                                  watermark=prompt.watermark, model=prompt.model,
                                  resolution=prompt.resolution or '1K', google_search=prompt.google_search,
                                  output_format=prompt.output_format or 'jpg')
        deadline = prompt.started_at + timedelta(seconds=self.settings.generation_timeout_s)
        # A model in maintenance (455) gets a short bounded retry, counted from this submit: the person hears which
        # model is down within about NANOGEN_MODEL_DOWN_WAIT, not at the generation timeout.
        down_deadline = self.rows.clock() + timedelta(seconds=self.settings.model_down_wait_s)
        last_code: list[int | None] = [None]
        backoff = retrying.Backoff(self.settings.poll_initial_s, self.settings.poll_max_s * 4, jitter='spread')

        def seconds_left() -> float:
            end = min(deadline, down_deadline) if last_code[0] in DOWN_CODES else deadline
            return (end - self.rows.clock()).total_seconds()

        def before_sleep(state: retrying.RetryCallState) -> None:
            exc = retrying.failure(state)
            assert isinstance(exc, ProviderError)
            said = (model_maintenance_message(prompt.model) if exc.provider_code in DOWN_CODES
                    else exc.user_message)
            self._say(prompt, f'{said} Retrying in {int(backoff.nominal(state.attempt_number))} s.')

        async def give_up(state: retrying.RetryCallState) -> None:
            exc = retrying.failure(state)
            assert isinstance(exc, ProviderError)
            if exc.provider_code == 455:  # the model is in maintenance: say so, and offer the others
                await self._fail(pid, model_down_message(self.settings, prompt.model, 455), claim=claim.token)
                return
            await self._fail(pid, f'{exc.user_message} We gave up after '
                                  f'{int(self.settings.generation_timeout_s // 60)} minutes. '
                                  f'{PROVIDER_SIDE}; you were not charged. Press Retry later.', claim=claim.token)

        async def attempt() -> str:
            if not await self._still_holds(pid, claim.token):  # cancelled meanwhile: never send
                raise _Lost
            async with self.provider_slots:
                try:
                    return await self.client.submit(request)
                except ProviderError as exc:
                    last_code[0] = exc.provider_code
                    raise

        retryer = retrying.retrying(retry_if=retrying.provider_may_succeed_later, backoff=backoff,
                                    deadline=seconds_left, before_sleep=before_sleep, give_up=give_up)
        task_id: str | None = await retryer(attempt)
        return task_id

    async def _still_holds(self, pid: int, token: str) -> bool:
        """Whether the claim still holds, just before a request goes out. Its attempt is already counted, so a busy
        database is waited out: a pause now would make the resume flag an extra charge for a request never sent."""
        retryer = retrying.retrying(retry_if=retrying.database_unavailable, backoff=SAVE_TASK_ID_BACKOFF,
                                    before_sleep=lambda state: log.warning(
                                        'prompt %s: waiting for the database before sending (%s)', pid,
                                        type(retrying.failure(state)).__name__))
        held: bool = await retryer(self.rows.holds, pid, token)
        return held

    async def _save_task_id(self, pid: int, token: str, ids: list[str], *, final: bool) -> Prompt | None:
        """The provider has accepted (and billed) the task: its id must reach the database, or a resume would submit
        it again. So a busy or restarting database is waited out here. `final`: every task of the prompt is in, it
        is PROCESSING now."""
        task_id = ids[-1]
        multi = {'task_ids': json.dumps(ids)} if len(ids) > 1 or not final else {}

        async def save() -> Prompt | None:
            if not final:
                return await self.rows.update(pid, expect_status=Status.PENDING.value, claim=token, **multi)
            return await self.rows.update(pid, expect_status=Status.PENDING.value, claim=token,
                                          provider_task_id=ids[0], status=Status.PROCESSING.value,
                                          submitted_at=self.rows.clock(), **multi)

        def before_sleep(state: retrying.RetryCallState) -> None:
            log.warning('prompt %s: task %s accepted but not saved yet (database unavailable: %s); retrying in '
                        '%.1f s', pid, task_id, type(retrying.failure(state)).__name__, state.upcoming_sleep)

        retryer = retrying.retrying(retry_if=retrying.database_unavailable, backoff=SAVE_TASK_ID_BACKOFF,
                                    before_sleep=before_sleep)
        saved: Prompt | None = await retryer(save)
        return saved

    async def drain(self, timeout: float) -> None:
        """Wait (bounded by what is left of the grace) for shielded submits still running after the worker stopped;
        past it, cut them as the process exit would: their counted attempt makes the next one a flagged resubmit."""
        if not self._shielded:
            return
        _done, pending = await asyncio.wait(set(self._shielded), timeout=max(0.01, timeout))
        for task in pending:
            log.warning('a submit was still in flight at the end of NANOGEN_SHUTDOWN_GRACE; it is cut (its next '
                        'attempt will be flagged as a possible extra charge)')
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # ------------------------------------------------------------------ check / finish
    def first_interval(self) -> float:
        # With callbacks, polling is only the safety net for a callback that never comes.
        return self.safety_net_s() if self.settings.public_url else self.settings.poll_initial_s

    def callback_arrived(self) -> None:
        self.last_callback_at = self.monotonic()

    def safety_net_s(self) -> float:
        """The check interval with callbacks: NANOGEN_POLL_MAX, or SAFETY_NET_FACTOR times that while callbacks
        are arriving here (a lost one is then the exception, found a little later)."""
        seen = self.last_callback_at
        healthy = seen is not None and self.monotonic() - seen < CALLBACKS_HEALTHY_S
        return self.settings.poll_max_s * (SAFETY_NET_FACTOR if healthy else 1)

    async def check(self, prompt_id: int, interval: float | None = None) -> None:
        await self._advance(prompt_id, chain=True, interval=interval or self.first_interval())

    async def finish(self, prompt_id: int) -> None:
        """A callback arrived: confirm with record-info and finish now (a check chain still runs as the net)."""
        await self._advance(prompt_id, chain=False, interval=self.first_interval())

    async def _advance(self, pid: int, *, chain: bool, interval: float) -> None:
        current_prompt_id.set(pid)
        run = _Run()
        try:
            prompt = await self.rows.get(pid)
            if prompt is None or prompt.status != Status.PROCESSING.value or not saved_task_ids(prompt):
                return
            run.read, run.token = True, prompt.claim_token
            started = prompt.submitted_at or prompt.started_at
            if self.rows.clock() >= started + timedelta(seconds=self.settings.generation_timeout_s):
                await self._fail(pid, self.timeout_message(), claim=run.token)
                return
            grown = self.safety_net_s() if self.settings.public_url else min(interval * 1.5, self.settings.poll_max_s)
            try:
                records = []
                for task_id in saved_task_ids(prompt):
                    async with self.provider_slots:
                        records.append(await self.client.record_info(task_id))
            except ProviderRejected as exc:
                await self._fail(pid, exc.user_message, claim=run.token)
                return
            except ProviderError as exc:
                if chain:
                    self._say(prompt, f'{exc.user_message} Checking again in {int(interval)} s.')
                    await self.engine.defer('check', pid, delay_s=interval, interval=grown)
                return
            if any(record.state is TaskState.GENERATING for record in records):
                if chain:
                    await self.engine.defer('check', pid, delay_s=interval, interval=grown)
                return
            await self._finish(prompt, records, run)
        except PAUSE as exc:  # the resume sweep picks the prompt up again
            log.warning('prompt %s paused: database unavailable (%s); it will be resumed', pid, type(exc).__name__)
        except Exception as exc:  # the last line of defence: the job ends FAILED with a message, never vanishes
            log.warning('prompt %s failed unexpectedly: %r', pid, exc, exc_info=True)
            if run.read:  # else the resume sweep runs the step again
                await self._fail(pid, 'Something went wrong on our side while generating. Try again.', claim=run.token)

    async def _finish(self, prompt: Prompt, records: list[TaskRecord], run: _Run) -> None:
        """Every task of the prompt has ended: store the images of those that made one (all on this prompt)."""
        assert prompt.id is not None
        pid = prompt.id
        raw: object = records[0].raw if len(records) == 1 else [r.raw for r in records]
        claim = await self.rows.claim(pid, Status.PROCESSING.value, finish=True,
                                      response_data=json.dumps(raw, default=str)[:20000],
                                      **billing_columns(prompt, [r.operation_type for r in records]))
        if claim is None:
            return
        token, attempt = claim.token, claim.prompt.finish_attempts
        run.token = token  # from here on, a failure of this execution is fenced by its own claim
        made = [r for r in records if r.state is TaskState.SUCCESS and (r.result_urls or r.origin_urls)]
        failed = [r for r in records if r.state is not TaskState.SUCCESS]
        if not made:
            if failed:
                message, billed = task_failure(self.settings, prompt.model, failed[0])
                await self._fail(pid, message, billed=billed, claim=token)
            else:
                await self._fail(pid, 'The provider reported success but sent no image. Try again.', claim=token)
            return
        billed_failures = sum(task_failure(self.settings, prompt.model, r)[1] for r in failed)
        if len(made) < len(records):
            log.warning('prompt %s: %d of %d tasks made no image', pid, len(records) - len(made), len(records))
        try:
            processed = []
            for record in made:
                processed += await self.results.process(prompt, record, limit=1 if len(records) > 1 else None,
                                                        download_slot=self.provider_slots)
        except (ProviderError, ImageError) as exc:
            await self._fail(pid, f'{exc.user_message} The provider billed this attempt.', billed=True, claim=token)
            return
        try:
            keys = await self.results.store(prompt, processed, lambda text: self._say(prompt, text), attempt=attempt)
        except StorageError as exc:
            await self._fail(pid, f'{exc.user_message} The image could not be saved; try again.', billed=True,
                             claim=token)
            return
        # Several one-image tasks: each made or billed one priced by its own operationType (they may differ).
        priced = [r.operation_type for r in made] + [r.operation_type for r in failed if r.operation_type]
        saved = await self.rows.complete(pid, processed, keys, lambda row: unit_cost(self.settings, row), claim=token,
                                         billed_failures=billed_failures,
                                         tasks_cost=tasks_cost(self.settings, prompt, priced) if len(records) > 1
                                         else None)
        if saved is None:
            # Cancelled, or this attempt lost its claim: its own objects (keys no other attempt uses) go; nothing
            # of the winner's is touched.
            log.warning('prompt %s: finish attempt %d did not complete (cancelled or claimed elsewhere)', pid, attempt)
            await self.results.discard(keys)
            return
        done, ids = saved
        log.info('prompt %s completed with %d image(s) in %s ms', pid, len(processed), done.duration_ms)
        self.publish(done, 'Done', ids)

    async def _fail(self, pid: int, message: str, *, claim: str | None, billed: bool = False) -> None:
        row = await self.rows.fail(pid, message, billed=billed, claim=claim)
        if row is not None:
            log.warning('prompt %s failed: %s', pid, message)
            self._say(row, message)
