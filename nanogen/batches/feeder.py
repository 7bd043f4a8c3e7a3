"""The fair queue: batch rows wait as QUEUED prompts and the feeder hands them to the job engine a few at a time.

Each pass promotes QUEUED -> PENDING (and defers the submit step, in the same transaction on PostgreSQL) round-robin
across the users with work queued: one row per user per round, at most NANOGEN_BATCH_CONCURRENCY in flight per batch,
the per-user limit (NANOGEN_MAX_CONCURRENT_PER_USER) kept with one slot free for the user's own single prompts,
and all batches together at most half the worker's steps. Single prompts never wait here: they are PENDING at once.

A pass runs under one lock (PostgreSQL: an advisory transaction lock; SQLite: its write lock), so replicas feeding
at the same moment never promote a row twice. State lives only in the rows: after a restart the next pass carries
on where the last one stopped. A pass also closes batches whose rows have all ended (a running or paused one becomes
DONE; a cancelled one, whose last running rows have now ended, gets its `finished_at`) and, in the same transaction,
runs the in-transaction end hook (the `batch.completed` webhook deliveries): see `ends.py`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nanogen import pools
from nanogen.batches.ends import BatchFinished, progress_of
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.events import EventBus, PromptEvent
from nanogen.generation.engine import JobEngine
from nanogen.models import UNFINISHED, Batch, BatchRow, Prompt, Status

log = logging.getLogger(__name__)
FEED_LOCK_KEY = 7_263_017  # pg_advisory_xact_lock key: one feeding pass at a time across replicas
QUEUED = Status.QUEUED.value


@dataclass(frozen=True)
class Promoted:
    prompt_id: int
    user_id: int


@dataclass(frozen=True)
class FeedResult:
    promoted: list[Promoted]
    finished: list[BatchFinished]


EndHook = Callable[[Session, Batch, dict[str, int]], BatchFinished]


def user_slots(settings: Settings) -> int:
    """How many of a user's running generations batches may fill: all but one (kept for single prompts)."""
    limit = settings.max_concurrent_per_user
    return limit - 1 if limit > 1 else limit


def global_slots(settings: Settings) -> int:
    return max(settings.batch_concurrency, settings.worker_concurrency // 2)


def round_robin(queues: dict[int, list[tuple[int, int]]], user_room: dict[int, int], batch_room: dict[int, int],
                total_room: int, in_flight: dict[int, int] | None = None) -> list[Promoted]:
    """Pick rows one per user per round within the rooms left per user, per batch and in total; each user's rows in
    batch then row order. `queues`: user -> [(batch_id, prompt_id), ...]. Users with fewer batch rows `in_flight`
    go first (then by id), so when one slot frees up it goes to whoever has the smallest share, not always to the
    same user."""
    picked: list[Promoted] = []
    cursors = {u: 0 for u in queues}
    order = sorted(queues, key=lambda u: ((in_flight or {}).get(u, 0), u))
    while total_room > 0:
        progress = False
        for user in order:
            if total_room <= 0 or user_room.get(user, 0) <= 0:
                continue
            rows = queues[user]
            while cursors[user] < len(rows) and batch_room.get(rows[cursors[user]][0], 0) <= 0:
                cursors[user] += 1  # that batch is full: its later rows wait for the next pass
            if cursors[user] >= len(rows):
                continue
            batch_id, prompt_id = rows[cursors[user]]
            cursors[user] += 1
            picked.append(Promoted(prompt_id=prompt_id, user_id=user))
            user_room[user] -= 1
            batch_room[batch_id] -= 1
            total_room -= 1
            progress = True
        if not progress:
            break
    return picked


class BatchFeeder:
    def __init__(self, *, db: Database, settings: Settings, engine: JobEngine, bus: EventBus,
                 clock: Callable[[], datetime], end_in: EndHook,
                 on_finished: Callable[[list[BatchFinished]], None]) -> None:
        self.db, self.settings, self.engine, self.bus, self.clock = db, settings, engine, bus, clock
        self.end_in = end_in  # in the pass's transaction: records the end's events with it
        self.on_finished = on_finished  # after the commit: notifications only (may be lost to a crash)
        self._running: asyncio.Task[None] | None = None
        self._again = False

    def wake(self) -> None:
        """Feed soon (a batch row ended, a batch was made or resumed); passes never overlap in this process."""
        if self._running is not None and not self._running.done():
            self._again = True
            return
        try:
            self._running = asyncio.get_running_loop().create_task(self._wake_loop(), name='batch-feed')
        except RuntimeError:  # no loop (a thread): the periodic pass will come
            pass

    async def _wake_loop(self) -> None:
        while True:
            self._again = False
            try:
                await self.feed()
            except Exception:  # the database may be briefly away: the periodic pass retries
                log.warning('batch feeding failed; the next pass retries', exc_info=True)
            if not self._again:
                return

    def on_event(self, event: PromptEvent) -> None:
        if Status(event.status).finished and not event.relayed:
            self.wake()

    async def feed(self) -> int:
        """One pass; returns how many rows it handed to the engine."""
        result = await pools.in_db(self._pass)  # the bounded DB threads, like every other query
        for p in result.promoted:
            if self.engine.in_memory:  # SQLite: the in-process queue, after the commit
                await self.engine.defer('submit', p.prompt_id)
            self.bus.publish(PromptEvent(user_id=p.user_id, prompt_id=p.prompt_id, status=Status.PENDING.value,
                                         message='Queued'))
        if result.promoted:
            log.info('batch feeder started %d row(s)', len(result.promoted))
        if result.finished:
            self.on_finished(result.finished)
        return len(result.promoted)

    def _pass(self) -> FeedResult:
        with self.db.write_lock_session() as s:
            if not self.db.is_sqlite:
                s.execute(sa.text('SELECT pg_advisory_xact_lock(:k)'), {'k': FEED_LOCK_KEY})
            result = self._promote(s)
            s.commit()
            return result

    def _close_ended(self, s: Session, open_: list[Batch], counts: dict[tuple[int, str], int],
                     now: datetime) -> list[BatchFinished]:
        """End the batches with no row queued or running (RUNNING/PAUSED -> DONE; CANCELLED keeps its status), each
        with its end hook, in this transaction."""
        finished: list[BatchFinished] = []
        for b in open_:
            if counts[(b.id, QUEUED)] or any(counts[(b.id, st)] for st in UNFINISHED):  # type: ignore[index]
                continue
            if b.status != 'CANCELLED':
                b.status = 'DONE'
            b.finished_at = now
            s.add(b)
            s.flush()
            finished.append(self.end_in(s, b, progress_of({st: n for (bid, st), n in counts.items() if bid == b.id})))
        return finished

    def _promote(self, s: Session) -> FeedResult:
        # Running and paused batches (either may have ended) and cancelled ones whose running rows had not ended.
        query = select(Batch).where(col(Batch.status).in_(('RUNNING', 'PAUSED'))
                                    | ((col(Batch.status) == 'CANCELLED') & col(Batch.finished_at).is_(None)))
        if not self.db.is_sqlite:  # a retry committing new rows meanwhile is seen (and waited for), not overwritten
            query = query.with_for_update()
        open_ = list(s.exec(query.order_by(col(Batch.id))))
        if not open_:
            return FeedResult([], [])
        ids = [b.id for b in open_]
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for batch_id, status, n in s.exec(
                select(BatchRow.batch_id, Prompt.status, func.count())
                .join(Prompt, col(Prompt.id) == col(BatchRow.prompt_id))
                .where(col(BatchRow.batch_id).in_(ids)).group_by(col(BatchRow.batch_id), col(Prompt.status))):
            counts[(batch_id, status)] = n
        now = self.clock()
        finished = self._close_ended(s, open_, counts, now)
        running = [b for b in open_ if b.status == 'RUNNING']
        queued: dict[int, int] = {}
        in_flight: dict[int, int] = {}
        for b in running:
            assert b.id is not None
            queued[b.id] = counts[(b.id, QUEUED)]
            in_flight[b.id] = sum(counts[(b.id, st)] for st in UNFINISHED)
        waiting = [b for b in running if b.id is not None and queued[b.id]]
        if not waiting:
            return FeedResult([], finished)
        batch_room = {b.id: self.settings.batch_concurrency - in_flight[b.id] for b in waiting if b.id is not None}
        users = {b.user_id for b in waiting}
        user_running = {u: n for u, n in s.exec(select(Prompt.user_id, func.count()).where(
            col(Prompt.user_id).in_(users), col(Prompt.status).in_(UNFINISHED)).group_by(col(Prompt.user_id))).all()}
        user_room = {u: user_slots(self.settings) - user_running.get(u, 0) for u in users}
        queues: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for b in sorted(waiting, key=lambda x: x.id or 0):
            assert b.id is not None
            room = batch_room[b.id]
            if room <= 0 or user_room.get(b.user_id, 0) <= 0:
                continue
            for pid in s.exec(select(Prompt.id).join(BatchRow, col(BatchRow.prompt_id) == col(Prompt.id))
                              .where(col(BatchRow.batch_id) == b.id, col(Prompt.status) == QUEUED)
                              .order_by(col(BatchRow.row_number)).limit(room)):
                if pid is not None:
                    queues[b.user_id].append((b.id, pid))
        share: dict[int, int] = defaultdict(int)
        for b in running:
            share[b.user_id] += in_flight[b.id]  # type: ignore[index]
        picked = round_robin(queues, user_room, batch_room, global_slots(self.settings) - sum(in_flight.values()),
                             share)
        for p in picked:
            # The release time is the generation's start: the timeout and the duration measure from it.
            done = s.execute(sa.update(Prompt).where(col(Prompt.id) == p.prompt_id, col(Prompt.status) == QUEUED)
                             .values(status=Status.PENDING.value, released_at=now, updated_at=now))
            if done.rowcount and not self.engine.in_memory:  # type: ignore[attr-defined]
                self.engine.defer_in(s, 'submit', p.prompt_id)  # commits with the promotion
        return FeedResult(picked, finished)
