"""Builds the running services from Settings; the one place that names concrete adapters (tests pass overrides)."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from nanogen.accounts.guard import LocalSignIn, SessionAuth
from nanogen.accounts.tokens import TokenService
from nanogen.accounts.users import UserService
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import ConfigError
from nanogen.events import EventBus
from nanogen.generation.budget import BudgetService
from nanogen.generation.relay import PostgresRelay
from nanogen.generation.service import GenerationService
from nanogen.generation.wakeups import Wakeups
from nanogen.images.references import ReferenceStore
from nanogen.images.s3 import S3Storage
from nanogen.images.storage import LocalStorage, Storage
from nanogen.library.actions import Gallery
from nanogen.library.retention import RetentionService
from nanogen.library.service import Library
from nanogen.logs import add_secrets
from nanogen.metrics import Metrics
from nanogen.ops.admin import AdminService
from nanogen.ops.stats import StatsService
from nanogen.ops.usage import UsageService
from nanogen.provider.client import NanobananaClient
from nanogen.provider.fake import FakeConfig, FakeProvider
from nanogen.studio import Browse, Studio, frozen_settings

log = logging.getLogger(__name__)
DEMO_BASE_URL = 'http://demo-provider.invalid'
DEMO_API_KEY = 'demo-key'


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
    gallery: Gallery
    tokens: TokenService
    budget: BudgetService
    admin: AdminService
    metrics: Metrics
    retention: RetentionService
    local_sign_in: LocalSignIn | None
    demo: FakeProvider | None = None
    relay: PostgresRelay | None = None  # cross-replica events, when the database is PostgreSQL
    references: ReferenceStore | None = None  # uploaded reference images for image-to-image
    extras: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        # NiceGUI's `create_user` test fixture enters the app's lifespan a second time while the first start may
        # still be running (startup handlers are background tasks): a second migrate races alembic's globals.
        if self.extras.get('started'):
            return
        self.extras['started'] = True
        await _to_thread(self.migrate)
        if isinstance(self.storage, S3Storage):
            await self.storage.ensure_bucket()
        if self.relay is not None:
            await self.relay.start()
        await self.generation.start()
        await self.library.start()
        await self.retention.start()

    def migrate(self) -> None:
        """Brings the schema up to date once per process start: app.py migrates before serving (NiceGUI does not hold
        requests until startup handlers finish) and start() then skips it; tests and tools that only call start()
        still get a migrated database."""
        if self.extras.get('migrated'):
            return
        self.db.migrate()
        self.extras['migrated'] = True

    async def stop(self) -> None:
        await self.retention.stop()
        await self.gallery.stop()
        await self.library.stop()
        await self.generation.stop()
        if self.relay is not None:
            await self.relay.stop()
        await self.http.aclose()
        if self.demo is not None:
            await self.demo.aclose()  # its callback client (the ASGI transport runs no lifespan for it)
        self.db.dispose()

    def studio(self) -> Studio:
        """The narrow view the pages get (issue 13): the services they may call, not the db, HTTP or storage."""
        return Studio(settings=frozen_settings(self.settings), demo_mode=self.settings.demo_mode, auth=self.auth,
                      users=self.users, local_sign_in=self.local_sign_in, bus=self.bus, generation=self.generation,
                      library=self.library, gallery=self.gallery, browse=Browse(self.db), budget=self.budget,
                      admin=self.admin, tokens=self.tokens, references=self.references,
                      stats=StatsService(self.db), usage=UsageService(self.db))


async def _to_thread(fn: Any) -> Any:
    import asyncio
    return await asyncio.to_thread(fn)


T = TypeVar('T')


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
    # The graph is built in dependency order and every collaborator goes in through a constructor. One pair needs
    # each other; a small hub built before both breaks the cycle (see generation/wakeups.py).
    users = UserService(db, settings)
    tokens = TokenService(db)
    auth = SessionAuth(users, token_lookup=tokens.lookup)
    budget = BudgetService(db, settings)
    library = Library(db=db, storage=storage, settings=settings, secret_key=secret_key)  # owns every delete
    gallery = Gallery(db=db, storage=storage, library=library, settings=settings, secret_key=secret_key)
    worker_id = worker_id or f'{socket.gethostname()}:{settings.port}'
    wakeups = Wakeups()  # relay <-> generation: each wakes jobs on the other's side
    relay = None
    if not db.is_sqlite:
        relay = PostgresRelay(db.url, bus, on_wake=wakeups.wake_local, replica_id=worker_id)
    generation = GenerationService(db=db, client=client, storage=storage, bus=bus, settings=settings,
                                   secret_key=secret_key, worker_id=worker_id,
                                   budget_check=budget.check,  # runs inside the insert's write-locked transaction
                                   remote_wake=relay.wake if relay is not None else None, wakeups=wakeups)
    local = None if settings.oidc_enabled else LocalSignIn(secret_key, db)
    add_secrets(secret_key)  # the dev key is generated, so setup_logging could not know it
    admin = AdminService(db=db, settings=settings, storage=storage, users=users, auth=auth, generation=generation,
                         client=client, budget=budget, library=library)
    metrics = Metrics(db, bus, in_flight=lambda: generation.in_flight)
    metrics.instrument_http(http, base_url)
    metrics.instrument_storage(storage)
    retention = RetentionService(library=library, settings=settings)
    return Services(settings=settings, secret_key=secret_key, db=db, storage=storage, http=http, client=client,
                    bus=bus, users=users, auth=auth, generation=generation, library=library, gallery=gallery, tokens=tokens,
                    local_sign_in=local, budget=budget, admin=admin, metrics=metrics, retention=retention,
                    demo=demo if settings.demo_mode else None, relay=relay,
                    references=ReferenceStore(storage=storage, settings=settings, secret_key=secret_key))
