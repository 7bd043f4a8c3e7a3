"""The batch service: preview, create (one locked, budgeted transaction), progress, pause/resume/cancel/retry, and
the batch-end hooks: `on_end_in` (in the transaction that ends the batch; webhooks write `batch.completed` there) and
`on_finished` (notifications after the commit). The queue itself is `feeder.py`; what an end is, `ends.py`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.batches.ends import BatchFinished, progress
from nanogen.batches.feeder import BatchFeeder
from nanogen.batches.inputs import RawRow
from nanogen.batches.rows import Plan, PlannedRow, plan
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import BudgetExceeded, Forbidden, InvalidInput, NotFound
from nanogen.events import EventBus
from nanogen.generation.engine import JobEngine
from nanogen.generation.requests import GenerationRequest, parse_id
from nanogen.images.references import ReferenceStore
from nanogen.images.storage import Storage
from nanogen.library.queries import own_images
from nanogen.models import RESERVING, Batch, BatchRow, Prompt, Status, utcnow

log = logging.getLogger(__name__)
FEED_EVERY_S = 2  # the periodic pass (the safety net; rows ending wake the feeder at once)
SOURCES = ('lines', 'csv', 'xlsx', 'template', 'rows')


@dataclass(frozen=True)
class RowView:
    row_number: int
    prompt_id: int
    prompt: str
    variables: dict[str, str]
    reference: str | None
    model: str
    size: str  # the pixel size or the resolution
    aspect_ratio: str
    num_images: int
    status: str
    estimated_cost: Decimal
    cost: Decimal
    error_message: str | None
    image_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class BatchView:
    id: int
    name: str
    source: str
    status: str
    total_rows: int
    estimated_cost: Decimal
    created_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]  # done, running, failed, queued, cancelled
    cost: Decimal
    rows: list[RowView] = field(default_factory=list)


def _prompt_row(user_id: int, req: GenerationRequest, estimate: Decimal, now: datetime) -> Prompt:
    return Prompt(user_id=user_id, prompt=req.prompt, task_type=req.task_type.value, image_size=req.size,
                  aspect_ratio=req.aspect_ratio, num_images=req.num_images, watermark=req.watermark, model=req.model,
                  resolution=req.resolution, google_search=req.google_search, output_format=req.output_format,
                  reference_urls=json.dumps(list(req.reference_urls)) if req.reference_urls else None,
                  estimated_cost=estimate, status=Status.QUEUED.value, created_at=now, updated_at=now)


def _request_of(p: Prompt) -> GenerationRequest:
    return GenerationRequest(prompt=p.prompt, size=p.image_size, aspect_ratio=p.aspect_ratio, num_images=p.num_images,
                             watermark=p.watermark, reference_urls=tuple(json.loads(p.reference_urls or '[]')),
                             model=p.model, resolution=p.resolution, google_search=p.google_search,
                             output_format=p.output_format)


EndInHook = Callable[[Session, BatchFinished], None]
FinishedHook = Callable[[BatchFinished], Awaitable[None] | None]


class BudgetCheck(Protocol):
    """`BudgetService.check`: raises BudgetExceeded; `warn=False` for probes (no 80% warning from them)."""

    def __call__(self, s: Session, user_id: int, estimate: Decimal, *, warn: bool = ...) -> None: ...


class BatchService:
    def __init__(self, *, db: Database, settings: Settings, engine: JobEngine, bus: EventBus, storage: Storage,
                 references: ReferenceStore | None, budget_check: BudgetCheck | None,
                 request_check: Callable[[Session, int, Any], None] | None,
                 on_end_in: Sequence[EndInHook] = (), on_finished: Sequence[FinishedHook] = (),
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db, self.settings, self.storage, self.references = db, settings, storage, references
        self.budget_check, self.request_check, self.clock = budget_check, request_check, clock
        # The batch-end hooks. `on_end_in` runs in the transaction that ends the batch (each in a savepoint): what it
        # writes commits with the end, so a crash right after loses nothing (webhooks queue `batch.completed` there).
        # `on_finished` runs after the commit (sync or async callables): notifications a crash may lose.
        self.on_end_in: list[EndInHook] = list(on_end_in)
        self.on_finished: list[FinishedHook] = list(on_finished)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.feeder = BatchFeeder(db=db, settings=settings, engine=engine, bus=bus, clock=clock,
                                  end_in=self._end_in, on_finished=self._finished)
        engine.periodic('batch-feed', FEED_EVERY_S, self.feeder.feed)
        bus.subscribe(self.feeder.on_event)

    # ------------------------------------------------------------------ preview and create
    async def preview(self, user_id: int, raws: list[RawRow], *, uploads: Mapping[str, bytes] | None = None) -> Plan:
        """The expanded rows, each validated (its estimate or its error), and the total estimate. Stores nothing."""
        wanted = sorted({i for r in raws if r.reference and (i := parse_id(r.reference)) is not None})
        own = await self.db.run(lambda s: set(own_images(s, user_id, wanted))) if wanted else set()
        return plan(self.settings, raws, own_image_ids=own, uploads=set(uploads or {}))

    async def budget_result(self, user_id: int, checked: Plan) -> str | None:
        """Whether the batch would pass the budget check now: None, or the refusal (how many rows would fit).
        Runs the real check in a transaction that is rolled back."""
        def work(s: Session) -> str | None:
            try:
                self._check_budget(s, user_id, [r.estimate for r in checked.rows], probe=True)
                return None
            except BudgetExceeded as exc:
                return exc.user_message
            finally:
                s.rollback()
        return await self.db.write(work)

    async def create(self, user_id: int, raws: list[RawRow], *, name: str = '', source: str = 'rows',
                     uploads: Mapping[str, bytes] | None = None) -> BatchView:
        """Record every row (QUEUED) in one write-locked transaction with the whole batch's budget check: all rows
        or none. InvalidInput when any row is invalid (see `preview` for each row's error)."""
        if source not in SOURCES:
            raise InvalidInput(f'Choose a source of {", ".join(SOURCES)}.', field='source')
        checked = await self.preview(user_id, raws, uploads=uploads)
        if not checked.ok:
            first = next(r for r in checked.rows if not r.ok)
            raise InvalidInput(f'{checked.errors} of {len(checked.rows)} rows have errors; nothing was submitted. '
                               f'Row {first.raw.number}: {first.error}', field='rows')
        requests = [await self._with_reference(user_id, r, uploads or {}) for r in checked.rows]
        now = self.clock()
        clean_name = ' '.join((name or '').split())[:200] or f'Batch of {len(requests)}'

        def work(s: Session) -> int:
            if not self.db.is_sqlite:
                s.execute(sa.text('SELECT id FROM users WHERE id = :id FOR UPDATE'), {'id': user_id})
            self._check_requests(s, user_id, requests, checked.rows)
            self._check_budget(s, user_id, [r.estimate for r in checked.rows])
            batch = Batch(user_id=user_id, name=clean_name, source=source, status='RUNNING',
                          total_rows=len(requests), estimated_cost=checked.total_estimate, created_at=now)
            s.add(batch)
            s.flush()
            prompts = [_prompt_row(user_id, req, row.estimate, now) for req, row in zip(requests, checked.rows,
                                                                                       strict=True)]
            s.add_all(prompts)
            s.flush()
            for row, prompt in zip(checked.rows, prompts, strict=True):
                s.add(BatchRow(batch_id=batch.id, row_number=row.raw.number, prompt_id=prompt.id,  # type: ignore[arg-type]
                               variables=json.dumps(row.raw.variables) if row.raw.variables else None,
                               reference=row.raw.reference))
            s.commit()
            assert batch.id is not None
            return batch.id
        batch_id = await self.db.write(work)
        log.info('batch %s of %d rows created by user %s', batch_id, len(requests), user_id)
        self.feeder.wake()
        return await self.get(user_id, batch_id, rows=False)

    def _check_requests(self, s: Session, user_id: int, requests: list[GenerationRequest],
                        rows: list[PlannedRow]) -> None:
        """Every row against the groups' allow-lists, once per (model, size, resolution) actually asked for: the
        size is part of the key, or Nano Banana rows of other sizes (resolution None) hid behind one check. A
        refusal names the first row refused."""
        if self.request_check is None:
            return
        seen: set[tuple[str, int, str | None]] = set()
        for req, row in zip(requests, rows, strict=True):
            key = (req.model, req.size, req.resolution)
            if key in seen:
                continue
            seen.add(key)
            try:
                self.request_check(s, user_id, req)
            except Forbidden as exc:
                raise Forbidden(f'Row {row.raw.number}: {exc.user_message} Nothing was submitted.',
                                detail=exc.detail) from None

    def _check_budget(self, s: Session, user_id: int, estimates: list[Decimal], *, probe: bool = False) -> None:
        """The whole batch against every budget; refused, it says how many rows would fit (a binary search over the
        same check, in the same locked transaction). A `probe` (the preview) and the search's own checks submit
        nothing, so they do not warn about the 80% mark."""
        if self.budget_check is None:
            return
        try:
            self.budget_check(s, user_id, sum(estimates, Decimal(0)), warn=not probe)
            return
        except BudgetExceeded as exc:
            refusal = exc
        low, high = 0, len(estimates) - 1  # the largest prefix that fits
        while low < high:
            mid = (low + high + 1) // 2
            try:
                self.budget_check(s, user_id, sum(estimates[:mid], Decimal(0)), warn=False)
                low = mid
            except BudgetExceeded:
                high = mid - 1
        s.rollback()  # this transaction is refused: nothing of it stays
        raise BudgetExceeded(f'{refusal.user_message} Only {low} of the {len(estimates)} rows would fit; '
                             'nothing was submitted.')

    async def _with_reference(self, user_id: int, row: PlannedRow, uploads: Mapping[str, bytes]) -> GenerationRequest:
        """The row's request with its reference's real URL (a copy among the user's reference images)."""
        from dataclasses import replace
        assert row.request is not None
        if row.reference_image_id is None and row.reference_upload is None:
            return row.request
        if self.references is None or not self.references.available:
            reason = self.references.unavailable_reason if self.references else 'Reference images are not set up.'
            raise InvalidInput(f'Row {row.raw.number}: {reason}', field='reference')
        if row.reference_upload is not None:
            data = uploads[row.reference_upload]
        else:
            image = (await self.db.run(lambda s: own_images(s, user_id, [row.reference_image_id])))  # type: ignore[list-item]
            found = image.get(row.reference_image_id)  # type: ignore[arg-type]
            if found is None:
                raise NotFound('That image does not exist.')
            data = await self.storage.get(found.key)
        ref = await self.references.save(user_id, data)
        return replace(row.request, reference_urls=(await self.references.url_for(user_id, ref.key),))

    # ------------------------------------------------------------------ reading
    def _owned(self, s: Session, user_id: int, batch_id: int, *, lock: bool = False) -> Batch:
        batch = s.get(Batch, batch_id, with_for_update=lock)
        if batch is None or batch.user_id != user_id:
            raise NotFound('That batch does not exist.')
        return batch

    async def list_batches(self, user_id: int, *, limit: int = 50, before_id: int | None = None) -> list[BatchView]:
        def work(s: Session) -> list[BatchView]:
            q = select(Batch).where(col(Batch.user_id) == user_id)
            if before_id is not None:
                q = q.where(col(Batch.id) < before_id)
            batches = list(s.exec(q.order_by(col(Batch.id).desc()).limit(limit)))
            return [self._view(s, b, rows=False) for b in batches]
        return await self.db.run(work)

    async def get(self, user_id: int, batch_id: int, *, rows: bool = True) -> BatchView:
        return await self.db.run(lambda s: self._view(s, self._owned(s, user_id, batch_id), rows=rows))

    def _view(self, s: Session, batch: Batch, *, rows: bool) -> BatchView:
        from nanogen.models import Image
        found = list(s.exec(select(BatchRow, Prompt).join(Prompt, col(Prompt.id) == col(BatchRow.prompt_id))
                            .where(col(BatchRow.batch_id) == batch.id).order_by(col(BatchRow.row_number))))
        cost = sum((p.estimated_cost if p.status in RESERVING else p.cost for _, p in found), Decimal(0))
        views: list[RowView] = []
        if rows:
            images: dict[int, list[int]] = {}
            pids = [p.id for _, p in found if p.status == Status.COMPLETED.value]
            for i in range(0, len(pids), 500):
                for image_id, pid in s.exec(select(Image.id, Image.prompt_id).where(
                        col(Image.prompt_id).in_(pids[i:i + 500]), col(Image.deleted_at).is_(None))
                        .order_by(col(Image.prompt_id), col(Image.position))):
                    images.setdefault(pid, []).append(image_id)  # type: ignore[arg-type]
            views = [RowView(row_number=r.row_number, prompt_id=p.id or 0, prompt=p.prompt,
                             variables=json.loads(r.variables) if r.variables else {}, reference=r.reference,
                             model=p.model, size=p.resolution or str(p.image_size), aspect_ratio=p.aspect_ratio,
                             num_images=p.num_images, status=p.status, estimated_cost=p.estimated_cost, cost=p.cost,
                             error_message=p.error_message, image_ids=images.get(p.id or 0, [])) for r, p in found]
        assert batch.id is not None
        return BatchView(id=batch.id, name=batch.name, source=batch.source, status=batch.status,
                         total_rows=batch.total_rows, estimated_cost=batch.estimated_cost, created_at=batch.created_at,
                         finished_at=batch.finished_at, counts=progress([p.status for _, p in found]), cost=cost,
                         rows=views)

    # ------------------------------------------------------------------ commands
    async def pause(self, user_id: int, batch_id: int) -> BatchView:
        """Start no more rows (those running finish); resume carries on from the next row."""
        return await self._set_status(user_id, batch_id, ('RUNNING',), 'PAUSED', 'Only a running batch can be paused.')

    async def resume(self, user_id: int, batch_id: int) -> BatchView:
        view = await self._set_status(user_id, batch_id, ('PAUSED',), 'RUNNING', 'Only a paused batch can be resumed.')
        self.feeder.wake()
        return view

    async def _set_status(self, user_id: int, batch_id: int, allowed: tuple[str, ...], to: str, refusal: str) -> BatchView:
        def work(s: Session) -> None:
            batch = self._owned(s, user_id, batch_id, lock=True)
            if batch.status not in allowed:
                raise InvalidInput(f'{refusal} This one is {batch.status.lower()}.', field='status')
            batch.status = to
            s.add(batch)
            s.commit()
        await self.db.write(work)
        log.info('batch %s is now %s', batch_id, to)
        return await self.get(user_id, batch_id, rows=False)

    async def cancel(self, user_id: int, batch_id: int) -> BatchView:
        """Cancel the rows that have not started (their reservation is released); running ones finish. The batch is
        CANCELLED at once; it has ended (finished_at, `batch.completed`) when its last running row has."""
        now = self.clock()

        def work(s: Session) -> BatchFinished | None:
            batch = self._owned(s, user_id, batch_id, lock=True)
            if batch.status in ('CANCELLED', 'DONE'):
                raise InvalidInput(f'That batch has already ended ({batch.status.lower()}).', field='status')
            rows = select(BatchRow.prompt_id).where(col(BatchRow.batch_id) == batch_id)
            s.execute(sa.update(Prompt).where(col(Prompt.id).in_(rows), col(Prompt.status) == Status.QUEUED.value)
                      .values(status=Status.CANCELLED.value, error_message='Cancelled with the rest of the batch.',
                              cost=Decimal(0), updated_at=now, completed_at=now))
            counts = progress(list(s.exec(select(Prompt.status).where(col(Prompt.id).in_(rows)))))
            batch.status = 'CANCELLED'
            ended = None
            if not counts['running']:  # else the feeder ends it once the running rows have ended
                batch.finished_at = now
                s.add(batch)
                s.flush()
                ended = self._end_in(s, batch, counts)
            s.add(batch)
            s.commit()
            return ended
        ended = await self.db.write(work)
        log.info('batch %s cancelled', batch_id)
        if ended is not None:
            self._finished([ended])
        else:
            self.feeder.wake()
        return await self.get(user_id, batch_id, rows=False)

    async def retry_failed(self, user_id: int, batch_id: int) -> BatchView:
        """Queue a new attempt of every failed row (same settings; the failed prompt stays in history)."""
        now = self.clock()

        def work(s: Session) -> int:
            if not self.db.is_sqlite:
                s.execute(sa.text('SELECT id FROM users WHERE id = :id FOR UPDATE'), {'id': user_id})
            batch = self._owned(s, user_id, batch_id, lock=True)
            failed = list(s.exec(select(BatchRow, Prompt).join(Prompt, col(Prompt.id) == col(BatchRow.prompt_id))
                                 .where(col(BatchRow.batch_id) == batch_id,
                                        col(Prompt.status) == Status.FAILED.value)))
            if not failed:
                raise InvalidInput('No row of this batch has failed.', field='status')
            self._check_budget(s, user_id, [p.estimated_cost for _, p in failed])
            for row, old in failed:
                prompt = _prompt_row(user_id, _request_of(old), old.estimated_cost, now)
                s.add(prompt)
                s.flush()
                row.prompt_id = prompt.id  # type: ignore[assignment]
                s.add(row)
            if batch.status in ('DONE', 'CANCELLED'):
                batch.status, batch.finished_at = 'RUNNING', None
            s.add(batch)
            s.commit()
            return len(failed)
        count = await self.db.write(work)
        log.info('batch %s: %d failed row(s) queued again', batch_id, count)
        self.feeder.wake()
        return await self.get(user_id, batch_id, rows=False)

    async def image_ids(self, user_id: int, batch_id: int) -> list[int]:
        view = await self.get(user_id, batch_id)
        return [i for r in view.rows for i in r.image_ids]

    # ------------------------------------------------------------------ the batch-end hooks
    def _end_in(self, s: Session, batch: Batch, counts: dict[str, int]) -> BatchFinished:
        """In the transaction that ends the batch: run `on_end_in`, each in a savepoint (a broken hook is logged and
        the batch ends anyway, as a prompt's final hook)."""
        assert batch.id is not None
        event = BatchFinished(batch_id=batch.id, user_id=batch.user_id, status=batch.status, counts=counts)
        for hook in list(self.on_end_in):
            try:
                with s.begin_nested():
                    hook(s, event)
            except Exception:
                log.warning('batch %s: an end hook failed; the batch ends anyway', batch.id, exc_info=True)
        return event

    def _finished(self, ended: list[BatchFinished]) -> None:
        for event in ended:
            task = asyncio.get_running_loop().create_task(self._announce(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _announce(self, event: BatchFinished) -> None:
        log.info('batch %s ended (%s): %s', event.batch_id, event.status, event.counts)
        for hook in list(self.on_finished):
            try:
                result = hook(event)
                if result is not None:
                    await result
            except Exception:  # a broken subscriber must not stop the others
                log.warning('batch-end hook failed for batch %s', event.batch_id, exc_info=True)
