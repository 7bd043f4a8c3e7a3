"""Builds the running services from Settings; the one place that names concrete adapters (tests pass overrides)."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from nanogen import pools
from nanogen.accounts.groups import GroupService
from nanogen.accounts.guard import LocalSignIn, SessionAuth
from nanogen.accounts.ratelimit import RateLimiter, build_rate_limiter
from nanogen.accounts.tokens import TokenService
from nanogen.accounts.users import UserService
from nanogen.batches.service import BatchService
from nanogen.cluster import DataDirLock, check_secret_key, key_fingerprint, migration_lock
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import ConfigError
from nanogen.events import EventBus
from nanogen.generation.budget import BudgetService
from nanogen.generation.edits import Edits
from nanogen.generation.engine import JobEngine, apply_schema
from nanogen.generation.group_policy import check_allowed
from nanogen.generation.relay import PostgresRelay
from nanogen.generation.service import GenerationService
from nanogen.images.references import ReferenceStore
from nanogen.images.s3 import S3Storage
from nanogen.images.storage import LocalStorage, Storage
from nanogen.library.retention import RetentionService
from nanogen.library.service import Library
from nanogen.logs import add_secrets
from nanogen.metrics import Metrics
from nanogen.ops.admin import AdminService
from nanogen.ops.stats import StatsService
from nanogen.ops.usage import UsageService
from nanogen.provider.client import NanobananaClient
from nanogen.provider.fake import FakeConfig, FakeProvider
from nanogen.studio import Studio, frozen_settings
from nanogen.webhooks import WebhookSender, WebhookService
from nanogen.webhooks.batches import batch_of, end_hooks

log = logging.getLogger(__name__)
DEMO_BASE_URL = 'http://demo-provider.invalid'
DEMO_API_KEY = 'demo-key'
LIBRARY_SWEEP_S = 30


@dataclass
class Services:
    settings: Settings
    secret_key: str
    db: Database
    storage: Storage
    http: httpx.AsyncClient
    client: NanobananaClient
    bus: EventBus
    users: UserService
    auth: SessionAuth
    generation: GenerationService
    library: Library
    groups: GroupService
    tokens: TokenService
    budget: BudgetService
    admin: AdminService
    metrics: Metrics
    retention: RetentionService
    local_sign_in: LocalSignIn | None
    demo: FakeProvider | None = None
    relay: PostgresRelay | None = None  # cross-replica events, when the database is PostgreSQL
    references: ReferenceStore | None = None  # uploaded reference images for image-to-image
    rate_limiter: RateLimiter | None = None  # the API's per-user rate, shared across replicas when it can be
    batches: BatchService | None = None  # batches (issue 17); `batches.on_finished` is the batch-end hook
    data_dir_lock: DataDirLock | None = None  # SQLite: this process owns the data dir (nanogen/cluster.py)
    webhooks: WebhookService | None = None  # endpoints and their deliveries (issue 17)
    webhook_sender: WebhookSender | None = None  # runs in the worker role
    extras: dict[str, Any] = field(default_factory=dict)
    after_start: list[Callable[[], object]] = field(default_factory=list)  # app.py's process-wide tuning

    async def start(self) -> None:
        # NiceGUI's `create_user` test fixture enters the app's lifespan a second time while the first start may
        # still be running (startup handlers are background tasks): a second migrate races alembic's globals.
        if self.extras.get('started'):
            return
        self.extras['started'] = True
        pools.configure(pools.PoolSizes(db_threads=self.settings.db_threads,
                                        storage_threads=self.settings.storage_threads,
                                        image_workers=self.settings.image_workers))
        await _to_thread(self.migrate)
        if self.settings.worker:  # the job worker is what decodes provider images; a web-only replica starts none
            # In the background: start-up (and uvicorn's listening socket) does not wait for the fork server.
            threading.Thread(target=pools.current().warm, name='nanogen-images-warm', daemon=True).start()
        if isinstance(self.storage, S3Storage):
            await self.storage.ensure_bucket()
        if self.relay is not None:
            await self.relay.start()
        await self.generation.start(worker=self.settings.worker)
        if self.settings.worker and self.webhook_sender is not None:
            await self.webhook_sender.start()
        for hook in self.after_start:
            hook()

    def migrate(self) -> None:
        """Brings the schema up to date once per process start: app.py migrates before serving (NiceGUI does not hold
        requests until startup handlers finish) and start() then skips it; tests and tools that only call start()
        still get a migrated database. Under one lock per database (replicas starting together migrate in turn), the
        secret key is checked against the one the database was first started with (nanogen/cluster.py)."""
        if self.extras.get('migrated'):
            return
        with migration_lock(self.db):  # replicas starting together migrate one at a time (issue 14 item 7)
            self.db.migrate()
            apply_schema(self.db)  # procrastinate's tables (PostgreSQL), idempotent
            check_secret_key(self.db, self.secret_key, rotate=self.settings.secret_key_rotate)
        self.extras['migrated'] = True

    async def stop(self) -> None:
        await self.generation.stop()  # drains first: in-flight submits end and are saved
        if self.webhook_sender is not None:
            await self.webhook_sender.stop()  # an attempt cut here is retried when its lease runs out
        await self.library.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.http.aclose()
        if self.demo is not None:
            await self.demo.aclose()  # its callback client (the ASGI transport runs no lifespan for it)
        self.db.dispose()
        if self.data_dir_lock is not None:
            self.data_dir_lock.release()
        pools.shutdown()  # the image worker processes end with the app

    def begin_drain(self) -> None:
        """SIGTERM arrived: `/readyz` says 503 draining from now on (then `drain`, or the shutdown hook, stops the
        worker)."""
        if not self.generation.engine.draining:
            log.info('draining: no new generation steps start here; /readyz answers 503')
        self.generation.engine.draining = True

    async def drain(self) -> None:
        """SIGTERM on `python app.py` (chained before uvicorn's exit): the worker takes no new job at once, in-flight
        steps (a submit and the saving of its task id) end within NANOGEN_SHUTDOWN_GRACE, while the server still
        answers (`/readyz` 503 draining, callbacks deferred for other workers)."""
        self.begin_drain()
        began = time.monotonic()
        await self.generation.drain()
        log.info('drained in %.1f s: stopping the server', time.monotonic() - began)

    @property
    def draining(self) -> bool:
        return self.generation.draining

    @functools.cached_property
    def edits(self) -> Edits:
        """Edit by instruction and versions (built on first use from the services above)."""
        return Edits(db=self.db, storage=self.storage, references=self.references, generation=self.generation,
                     settings=self.settings)

    def studio(self) -> Studio:
        """The narrow view the pages get (issue 13): the services they may call, not the db, HTTP or storage."""
        return Studio(settings=frozen_settings(self.settings), demo_mode=self.settings.demo_mode, auth=self.auth,
                      users=self.users, local_sign_in=self.local_sign_in, bus=self.bus, generation=self.generation,
                      library=self.library, groups=self.groups, budget=self.budget,
                      admin=self.admin, tokens=self.tokens, references=self.references,
                      stats=StatsService(self.db), usage=UsageService(self.db), edits=self.edits,
                      webhooks=self.webhooks,
                      batches=self.batches)


def chain_sigterm(on_term: Callable[[], None], drain: Callable[[], Coroutine[Any, Any, None]] | None = None) -> None:
    """When SIGTERM arrives call `on_term` at once, then (called from the event loop) run `drain` and only once it
    ends hand the signal to the handler installed before (uvicorn's graceful exit, which stops serving), so the
    server answers meanwhile. A second SIGTERM goes straight through."""
    if threading.current_thread() is not threading.main_thread():
        return  # a server run in a thread (the browser tests' screen fixture) gets no signals; its owner stops it
    previous = signal.getsignal(signal.SIGTERM)
    loop = asyncio.get_running_loop() if drain is not None else None
    signalled: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            raise SystemExit(128 + signum)

    def drained(_task: asyncio.Task[None]) -> None:
        if callable(previous):
            previous(signal.SIGTERM, None)
        elif previous is not None:  # no Python handler to call from here: the signal again, with the one from before
            signal.signal(signal.SIGTERM, previous)
            signal.raise_signal(signal.SIGTERM)

    def start_drain() -> None:
        assert loop is not None and drain is not None
        loop.create_task(drain(), name='nanogen-drain').add_done_callback(drained)

    def handler(signum: int, frame: Any) -> None:
        on_term()
        if loop is None or signalled:
            forward(signum, frame)
            return
        signalled.append(signum)
        loop.call_soon_threadsafe(start_drain)  # a signal handler must not touch the loop's queues directly
    signal.signal(signal.SIGTERM, handler)


async def _to_thread(fn: Any) -> Any:
    return await asyncio.to_thread(fn)


T = TypeVar('T')


async def _run_sweeps(library: Library) -> None:
    """The library's clean-ups (purge of hidden images whose undo window is over, and those others added)."""
    for sweep in library.sweeps:
        try:
            await sweep()
        except Exception:  # one failing sweep does not stop the others
            log.warning('sweep %s failed', getattr(sweep, '__qualname__', sweep), exc_info=True)


def start_or_exit(build: Callable[[], T]) -> T:
    """Run the start-up; on bad configuration print every problem as a short list (no traceback) and exit 2."""
    try:
        return build()
    except ConfigError as exc:
        problems = exc.problems
    except ValidationError as exc:  # pydantic names the variable (its alias) and never echoes the value
        problems = [f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
                    for e in exc.errors()]
    print('nanogen cannot start; fix these settings:\n' + ''.join(f'  - {p}\n' for p in problems),
          file=sys.stderr, end='', flush=True)
    raise SystemExit(2)


def build_storage(settings: Settings) -> Storage:
    if settings.s3_enabled:
        return S3Storage.from_settings(settings)
    return LocalStorage(settings.data_dir / 'images')


def build_services(settings: Settings, *, storage: Storage | None = None, http: httpx.AsyncClient | None = None,
                   demo: FakeProvider | None = None, worker_id: str | None = None) -> Services:
    lock = lock_data_dir(settings)  # before the generated key file is read or written
    try:
        return _build(settings, lock, storage=storage, http=http, demo=demo, worker_id=worker_id)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def lock_data_dir(settings: Settings) -> DataDirLock | None:
    """SQLite allows one process per data dir: a second one is refused (ConfigError) instead of silently missing the
    first one's live updates."""
    if not settings.resolved_database_url().startswith('sqlite'):
        return None
    return DataDirLock(settings.data_dir).acquire()


def _build(settings: Settings, lock: DataDirLock | None, *, storage: Storage | None, http: httpx.AsyncClient | None,
           demo: FakeProvider | None, worker_id: str | None) -> Services:
    """Every concrete service, built once and handed to the others.

    Long because: the composition root names each adapter and service in one place, in dependency order."""
    settings.check_startup()
    secret_key = settings.resolve_secret_key()
    db = Database(settings.resolved_database_url())
    storage = storage or build_storage(settings)
    if settings.demo_mode:
        # The contract fake runs in-process behind an ASGI transport: no network, no key, clearly a demo.
        demo = demo or FakeProvider(FakeConfig(latency_s=settings.demo_latency_s, latency_jitter_s=0.0,
                                               send_callbacks=False))
        http = http or httpx.AsyncClient(transport=httpx.ASGITransport(app=demo.app), base_url=DEMO_BASE_URL,
                                         timeout=settings.provider_timeout_s)
        api_key, base_url = DEMO_API_KEY, DEMO_BASE_URL
    else:
        http = http or httpx.AsyncClient(timeout=settings.provider_timeout_s,
                                         limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        api_key, base_url = settings.nanobanana_api_key, settings.nanobanana_base_url
    client = NanobananaClient(http, api_key=api_key, base_url=base_url, retries=settings.provider_retries)
    bus = EventBus()
    # The graph is built in dependency order and every collaborator goes in through a constructor: the webhook sender
    # before the service it wakes, the reference store before generation, the webhooks before batches.
    users = UserService(db, settings)
    tokens = TokenService(db)
    groups = GroupService(db)
    auth = SessionAuth(users, token_lookup=tokens.lookup)
    budget = BudgetService(db, settings)
    library = Library(db=db, storage=storage, settings=settings, secret_key=secret_key)  # owns every delete
    worker_id = worker_id or f'{socket.gethostname()}:{settings.port}:{os.getpid()}'  # unique per process
    relay = None
    if not db.is_sqlite:  # a worker-only process tells pages on web replicas through it (NOTIFY)
        relay = PostgresRelay(db.url, bus, replica_id=worker_id)
    engine = JobEngine(db=db, settings=settings, name=worker_id)
    sender = WebhookSender(db, settings)
    webhooks = WebhookService(db, settings, wake=sender.wake, batch_of=batch_of)
    references = ReferenceStore(storage=storage, settings=settings, secret_key=secret_key)
    generation = GenerationService(db=db, client=client, storage=storage, bus=bus, settings=settings,
                                   secret_key=secret_key, worker_id=worker_id, engine=engine,
                                   budget_check=budget.check,  # runs inside the insert's write-locked transaction
                                   request_check=check_allowed,  # the groups' allow-lists, in the same transaction
                                   on_final=webhooks.record_final,  # deliveries commit with the final status
                                   refresh_references=references.refresh)
    local = None if settings.oidc_enabled else LocalSignIn(secret_key, db)
    add_secrets(secret_key)  # the dev key is generated, so setup_logging could not know it
    admin = AdminService(db=db, settings=settings, storage=storage, users=users, auth=auth, generation=generation,
                         client=client, budget=budget, library=library)
    metrics = Metrics(db, bus, in_flight=lambda: generation.in_flight,
                      suspect_submits=lambda: generation.steps.suspect_submits)
    metrics.instrument_http(http, base_url)
    metrics.instrument_storage(storage)
    retention = RetentionService(library=library, settings=settings)
    batch_ended, batch_committed = end_hooks(webhooks)
    batches = BatchService(db=db, settings=settings, engine=engine, bus=bus, storage=storage, references=references,
                           budget_check=budget.check, request_check=check_allowed,
                           on_end_in=[batch_ended], on_finished=[batch_committed])
    # Housekeeping of the library runs as periodic jobs, on one worker of the cluster per tick.
    engine.periodic('library-sweeps', LIBRARY_SWEEP_S, lambda: _run_sweeps(library))
    engine.periodic('pending-deletes', LIBRARY_SWEEP_S, library.retry_pending_deletes)
    engine.periodic('retention', 3600, retention.purge_once)
    return Services(settings=settings, secret_key=secret_key, db=db, storage=storage, http=http, client=client,
                    bus=bus, users=users, auth=auth, generation=generation, library=library, groups=groups, tokens=tokens,
                    local_sign_in=local, budget=budget, admin=admin, metrics=metrics, retention=retention,
                    demo=demo if settings.demo_mode else None, relay=relay,
                    references=references, batches=batches,
                    rate_limiter=build_rate_limiter(settings, db, namespace=key_fingerprint(secret_key)[:12]),
                    data_dir_lock=lock, webhooks=webhooks, webhook_sender=sender)
