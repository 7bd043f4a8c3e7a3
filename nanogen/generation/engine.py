"""The job engine: procrastinate decides who runs which step of a generation, and when (issue 14).

The prompt row stays the record and the state machine (`generation/steps.py`); procrastinate only holds *which step
to run next for which prompt*. Every job of a prompt carries the lock `prompt-<id>` (two steps of one prompt never
run at once) and a queueing lock per step (`check-<id>`, `finish-<id>`...: duplicates collapse). A worker's
heartbeat lives in `procrastinate_workers`; the `retry-stalled` periodic task hands the running jobs of a worker that
stopped heart-beating (kill -9, a frozen host) back to the queue, where any live worker takes them.

On PostgreSQL the connector is procrastinate's PsycopgConnector on the app's own database, and `defer_in` writes
the first job *inside* the transaction that records the prompt and checks the budget (procrastinate's own SQL
function, `procrastinate_defer_jobs_v1`): both commit or neither does. On SQLite (the embedded default, one
process) the jobs live in procrastinate's InMemoryConnector (`memqueue.MemoryQueue`, made to last): nothing to run
beside the app. A crash there loses the queue but never the rows, so the `resume` sweep (at start, then
periodically) defers the next step of every unfinished prompt that has no live job; the same sweep is the safety
net on PostgreSQL (a job that ended badly).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
import sqlalchemy as sa
from procrastinate import exceptions as pexc
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from sqlmodel import Session

from nanogen import retrying
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.generation.memqueue import MemoryQueue
from nanogen.generation.relay import to_psycopg_url

log = logging.getLogger(__name__)
QUEUE = 'nanogen'
WORKER_RESTART = retrying.Backoff(0.5, 10.0)
POOL_TIMEOUT_S = 3.0  # a database that is gone fails fast instead of holding a stop for psycopg's default 30 s
STEPS = ('submit', 'check', 'finish')
PRIORITY = {'submit': 0, 'check': 0, 'finish': 10}  # a callback's finish jumps a check scheduled for later
DEFER_SQL = sa.text(
    'SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, :priority, :lock, :qlock, CAST(:args AS jsonb), '
    'NULL)::procrastinate_job_to_defer_v1])')


def task_name(step: str) -> str:
    return f'nanogen.{step}'


MIGRATIONS_TABLE = 'nanogen_procrastinate_migrations'  # procrastinate's migration files applied here (ours)


def shipped_migrations(path: Path | None = None) -> list[Path]:
    """procrastinate's own SQL migration files, in the order they apply (their names sort by version)."""
    folder = path or Path(SchemaManager.get_migrations_path())
    return sorted(folder.glob('*.sql'))


def apply_schema(db: Database, migrations: Path | None = None) -> None:
    """procrastinate's tables and functions, brought up to the installed procrastinate: the full schema on an empty
    database, else each of its migration files not applied yet, recorded in MIGRATIONS_TABLE. Called by
    `Services.migrate()` under the cluster's migration lock, right after our own migrations; SQLite needs none.

    A database whose procrastinate schema predates MIGRATIONS_TABLE was made by procrastinate 3.10's full schema
    (the only release nanogen has allowed, see pyproject.toml), so every file shipped with it counts as applied."""
    if db.is_sqlite:
        return
    shipped = shipped_migrations(migrations)
    with psycopg.connect(to_psycopg_url(db.url), autocommit=True) as conn, conn.transaction():
        conn.execute(f'CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name text PRIMARY KEY, '
                     'applied_at timestamptz NOT NULL DEFAULT now())')
        applied = {row[0] for row in conn.execute(f'SELECT name FROM {MIGRATIONS_TABLE}')}
        found = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if found is None or found[0] is None:
            conn.execute(SchemaManager.get_schema())  # the full schema already holds every shipped migration
            pending, run = shipped, False
            log.info('procrastinate schema applied')
        else:
            pending, run = [m for m in shipped if m.name not in applied], bool(applied)
        for migration in pending:
            if run:
                conn.execute(migration.read_text())
                log.info('procrastinate migration %s applied', migration.name)
            conn.execute(f'INSERT INTO {MIGRATIONS_TABLE} (name) VALUES (%s)', (migration.name,))


class JobEngine:
    def __init__(self, *, db: Database, settings: Settings, name: str) -> None:
        self.db = db
        self.settings = settings
        self.name = name
        self.in_memory = db.is_sqlite
        connector: Any = (MemoryQueue() if self.in_memory else
                          procrastinate.PsycopgConnector(conninfo=to_psycopg_url(db.url), min_size=2, max_size=8,
                                                         timeout=POOL_TIMEOUT_S,
                                                         kwargs={'application_name': f'nanogen-jobs {name}'[:60]}))
        self.app = procrastinate.App(connector=connector)
        self._worker: asyncio.Task[None] | None = None
        self._worker_stop: asyncio.Future[Any] | None = None  # the graceful stop under way (drain, then stop)
        self._opened = False
        self._retry_lock = asyncio.Lock()  # retry_stalled: one run at a time in this process
        self.draining = False  # SIGTERM (begin_drain) or stop(): no new step starts here
        self._stopped = False  # stop() ran: a later start_worker is a restart and clears `draining`

    # ------------------------------------------------------------------ registration
    def step(self, step: str, fn: Callable[..., Awaitable[None]]) -> None:
        self.app.task(name=task_name(step), queue=QUEUE, pass_context=False)(fn)

    def periodic(self, name: str, every_s: int, fn: Callable[[], Awaitable[Any]]) -> None:
        """Run `fn` every `every_s` seconds on one worker of the cluster (procrastinate dedupes each tick)."""
        # croniter's optional sixth field is the seconds one
        cron = f'* * * * * */{every_s}' if every_s < 60 else f'*/{min(60, every_s // 60)} * * * *'

        async def run(timestamp: int) -> None:
            try:
                await fn()
            except Exception:  # the database or the store may be briefly away: next tick
                log.warning('periodic task %s failed; it runs again next tick', name, exc_info=True)
        run.__name__ = run.__qualname__ = name.replace('-', '_')
        self.app.periodic(cron=cron, periodic_id=name)(self.app.task(name=f'nanogen.{name}', queue=QUEUE)(run))

    # ------------------------------------------------------------------ deferring
    def job_args(self, step: str, prompt_id: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {'queue': QUEUE, 'task': task_name(step), 'priority': PRIORITY[step], 'lock': f'prompt-{prompt_id}',
                'qlock': f'{step}-{prompt_id}', 'args': json.dumps({'prompt_id': prompt_id, **(extra or {})})}

    def defer_in(self, s: Session, step: str, prompt_id: int) -> bool:
        """Defer a step inside the caller's transaction (PostgreSQL); False on SQLite (defer after commit)."""
        if self.in_memory:
            return False
        s.execute(DEFER_SQL, self.job_args(step, prompt_id))
        return True

    async def defer(self, step: str, prompt_id: int, *, delay_s: float = 0.0, **extra: Any) -> bool:
        """Queue a step for a prompt; False when the same step is already waiting (its queueing lock)."""
        await self.open()
        task = self.app.tasks[task_name(step)]
        options: dict[str, Any] = {'lock': f'prompt-{prompt_id}', 'queueing_lock': f'{step}-{prompt_id}',
                                   'priority': PRIORITY[step]}
        if delay_s > 0:
            options['schedule_in'] = {'seconds': delay_s}
        try:
            await task.configure(**options).defer_async(prompt_id=prompt_id, **extra)
        except pexc.AlreadyEnqueued:
            return False
        return True

    async def run_sooner(self, step: str, prompt_id: int) -> None:
        """Make a waiting step of this prompt due now (a callback arrived while a check waits its turn)."""
        if self.in_memory:
            for job in list(self._memory().jobs.values()):
                if job['status'] == 'todo' and job['queueing_lock'] == f'{step}-{prompt_id}':
                    job['scheduled_at'] = None
            return

        def work(s: Session) -> None:
            s.execute(sa.text("UPDATE procrastinate_jobs SET scheduled_at = NULL WHERE queueing_lock = :q "
                              "AND status = 'todo'"), {'q': f'{step}-{prompt_id}'})
            s.commit()
        await self.db.write(work)

    async def live_prompt_ids(self) -> set[int]:
        """Prompts that have a job waiting or running (the resume sweep leaves those alone)."""
        if self.in_memory:
            return {int(j['args']['prompt_id']) for j in self._memory().jobs.values()
                    if j['status'] in ('todo', 'doing') and 'prompt_id' in (j['args'] or {})}

        def work(s: Session) -> set[int]:
            rows = s.execute(sa.text("SELECT DISTINCT (args->>'prompt_id')::int FROM procrastinate_jobs "
                                     "WHERE status IN ('todo', 'doing') AND args ? 'prompt_id'")).scalars()
            return {int(r) for r in rows}
        return await self.db.run(work)

    def _memory(self) -> MemoryQueue:
        connector = self.app.connector
        assert isinstance(connector, MemoryQueue)
        return connector

    # ------------------------------------------------------------------ failure detection
    async def retry_stalled(self) -> int:
        """Requeue the running jobs of workers whose heartbeat is older than NANOGEN_STALLED_AFTER_S.

        One run at a time in this process: a dead worker's own retry-stalled job, once retried, runs here beside
        this worker's, and two runs that read the same stalled job both retried it, the second while a live worker
        was already running it again (a third finish attempt, seen in CI). The second run now reads after the first
        has retried, when that job is no longer stalled."""
        async with self._retry_lock:
            return await self._retry_stalled()

    async def _retry_stalled(self) -> int:
        manager = self.app.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=self.settings.stalled_after_s))
        for job in stalled:
            assert job.id is not None
            try:
                await manager.retry_job(job)
                log.warning('job %s (%s) of a worker that stopped heart-beating is retried', job.id, job.task_name)
            except pexc.UniqueViolation:  # its step had already queued its successor: that one carries on
                await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
                log.warning('job %s (%s) of a dead worker is closed: its next step is already queued', job.id,
                            job.task_name)
        await manager.prune_stalled_workers(self.settings.stalled_after_s)
        return len(stalled)

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        if not self._opened:
            self._opened = True
            await self.app.open_async()

    async def start_worker(self) -> None:
        await self.open()
        if self._stopped:
            self._stopped = self.draining = False
        if self.draining:  # SIGTERM came while the app was still starting: its worker never starts
            log.info('draining before the job worker started: it does not start')
            return
        if self._worker is None:
            self._worker = asyncio.create_task(self._supervise(), name='procrastinate-worker')

    async def _supervise(self) -> None:
        """Run procrastinate's worker; when it ends on its own (its database connection dropped: a restart, a
        failover), start it again with backoff. Cancelling this task is the graceful stop."""
        failures = 0
        while True:
            began = asyncio.get_running_loop().time()
            reason = 'a side task failed'  # procrastinate stops itself, without raising, when its heartbeat fails
            try:
                await self._run_worker()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = type(exc).__name__
            if self.draining:
                return
            if asyncio.get_running_loop().time() - began > 30:
                failures = 0
            failures += 1
            delay = WORKER_RESTART.delay(failures)
            log.warning('job worker stopped (%s); restarting in %.1f s', reason, delay)
            await asyncio.sleep(delay)

    async def _run_worker(self) -> None:
        await self.app.run_worker_async(
            queues=[QUEUE], name=self.name, concurrency=self.settings.worker_concurrency, wait=True,
            install_signal_handlers=False, listen_notify=True,
            fetch_job_polling_interval=0.1 if self.in_memory else min(1.0, self.settings.poll_initial_s),
            abort_job_polling_interval=1.0, shutdown_graceful_timeout=self.settings.shutdown_grace_s,
            update_heartbeat_interval=self.settings.worker_heartbeat_s,
            stalled_worker_timeout=self.settings.stalled_after_s,
            delete_jobs='always' if self.in_memory else 'successful')

    @property
    def worker_running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def stop_worker(self) -> None:
        """Take no new job from now on; running steps end, bounded by NANOGEN_SHUTDOWN_GRACE. The app stays open: a
        draining replica still defers jobs (a prompt posted, a callback) for the other workers."""
        self.draining = True
        if self._worker is not None and self._worker_stop is None:
            self._worker.cancel()  # procrastinate's graceful stop; only once: a second cancel aborts running steps
            self._worker_stop = asyncio.ensure_future(asyncio.gather(self._worker, return_exceptions=True))
        if self._worker_stop is not None:
            await asyncio.shield(self._worker_stop)
            self._worker = self._worker_stop = None

    async def stop(self) -> None:
        """Drain (`stop_worker`), then close."""
        self._stopped = True
        await self.stop_worker()
        if self._opened:
            self._opened = False
            await self.app.close_async()
