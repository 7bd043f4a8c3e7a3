"""Builds the running services from Settings; the one place that names concrete adapters (tests pass overrides)."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

from .auth import LocalSignIn, SessionAuth, UserService
from .config import Settings
from .db import Database
from .events import EventBus
from .generation import GenerationService
from .library import Library
from .provider.client import NanobananaClient
from .provider.fake import FakeConfig, FakeProvider
from .storage import LocalStorage, S3Storage, Storage

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
    local_sign_in: LocalSignIn | None
    demo: FakeProvider | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        await _to_thread(self.db.migrate)
        if isinstance(self.storage, S3Storage):
            await self.storage.ensure_bucket()
        await self.generation.start()
        await self.library.start()

    async def stop(self) -> None:
        await self.library.stop()
        await self.generation.stop()
        await self.http.aclose()
        self.db.dispose()


async def _to_thread(fn: Any) -> Any:
    import asyncio
    return await asyncio.to_thread(fn)


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
    users = UserService(db, settings)
    library = Library(db=db, storage=storage, settings=settings, secret_key=secret_key)
    auth = SessionAuth(users, token_lookup=library.user_for_token)
    generation = GenerationService(db=db, client=client, storage=storage, bus=bus, settings=settings,
                                   secret_key=secret_key, worker_id=worker_id or f'{socket.gethostname()}:{settings.port}')
    local = None if settings.oidc_enabled else LocalSignIn(secret_key)
    return Services(settings=settings, secret_key=secret_key, db=db, storage=storage, http=http, client=client,
                    bus=bus, users=users, auth=auth, generation=generation, library=library, local_sign_in=local,
                    demo=demo if settings.demo_mode else None)
