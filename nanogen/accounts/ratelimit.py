"""Per-user API request rate (`limits`, shared across replicas through Redis or PostgreSQL), the request-body size
guard, and bounded JSON parsing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from nanogen.accounts.ratewindows import PostgresWindows
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import RateLimited

log = logging.getLogger(__name__)

MAX_API_BODY_BYTES = 1024 * 1024  # JSON bodies; nothing the API takes comes near it
MAX_MULTIPART_BYTES = 20 * 1024 * 1024  # uploaded reference images (the API's and the generator page's)
MAX_CALLBACK_BYTES = 256 * 1024  # a provider callback is a few hundred bytes of JSON
MAX_JSON_DEPTH = 32
CALLBACK_PREFIX = '/api/provider/callback/'
UNLIMITED_PREFIXES = ('/_nicegui_ws/',)  # socket.io bounds its own messages (max_http_buffer_size)


class JsonTooDeep(ValueError):
    """Nested deeper than allowed: refused before json.loads could recurse into a RecursionError."""


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays/objects in `raw`, counting outside strings only (a linear scan)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def parse_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with a nesting cap; ValueError (JsonTooDeep, or the decoder's own) for anything unacceptable."""
    if json_depth(raw) > max_depth:
        raise JsonTooDeep(f'nested deeper than {max_depth} levels')
    return json.loads(raw)


class RateLimiter:
    """`rate` API requests a minute per user, counted in fixed one-minute windows by the `limits` library. The
    storage decides who shares the count: Redis or PostgreSQL (`build_rate_limiter`) make it one budget across every
    replica; the in-memory storage counts per process. A storage that fails lets the request through (a WARNING):
    an outage of the counter must not lock every user out of the API."""

    def __init__(self, rate_per_minute: int, *, storage: Storage | None = None, namespace: str = 'nanogen') -> None:
        self.rate = max(1, rate_per_minute)
        self.item = RateLimitItemPerMinute(self.rate)
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        self.shared = not isinstance(self.storage, MemoryStorage)
        self.namespace = namespace
        self.strategy = FixedWindowRateLimiter(self.storage)

    def hit(self, key: int) -> None:
        """Take one request from `key`'s allowance, or raise RateLimited saying when the next one is allowed."""
        try:
            if self.strategy.hit(self.item, 'api', self.namespace, str(key)):
                return
            reset = self.strategy.get_window_stats(self.item, 'api', self.namespace, str(key)).reset_time
        except Exception as exc:  # any storage failure (redis, psycopg, ...) fails open
            log.warning('the API rate limit storage failed (%s): request let through', type(exc).__name__)
            return
        wait = max(1.0, reset - time.time())
        raise RateLimited(f'Too many requests: the limit is {self.rate} a minute. Try again in {round(wait)} s.',
                          retry_after=wait)

    async def acquire(self, key: int) -> None:
        """`hit` from the event loop: a shared storage is a network round trip, so it runs in a worker thread."""
        if self.shared:
            await asyncio.to_thread(self.hit, key)
        else:
            self.hit(key)


def build_rate_limiter(settings: Settings, db: Database, *, namespace: str) -> RateLimiter:
    """Redis when NANOGEN_REDIS_URL (or NiceGUI's NICEGUI_REDIS_URL) is set, else the PostgreSQL table when the
    database is PostgreSQL, else in memory (one process: SQLite allows no second one)."""
    storage: Storage | None = None
    if settings.redis_url:
        redis = storage_from_string(settings.redis_url, key_prefix='nanogen-rate', socket_timeout=2,
                                    socket_connect_timeout=2)
        assert isinstance(redis, Storage)  # a redis:// URI names a sync storage
        storage = redis
    elif not db.is_sqlite:
        storage = PostgresWindows(db.engine)
    return RateLimiter(settings.api_rate_per_minute, storage=storage, namespace=namespace)


class BodyLimitMiddleware:
    """Refuses request bodies over the limit with a 413 envelope, before anything reads them: every route (the
    API, NiceGUI's upload route `/_nicegui/client/<id>/upload/<id>`, provider callbacks with a smaller limit)."""

    def __init__(self, app: Any, *, max_bytes: int = MAX_API_BODY_BYTES,
                 max_multipart_bytes: int = MAX_MULTIPART_BYTES, max_callback_bytes: int = MAX_CALLBACK_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_multipart_bytes = max_multipart_bytes
        self.max_callback_bytes = max_callback_bytes

    def limit_for(self, path: str, content_type: bytes) -> int:
        if path.startswith(CALLBACK_PREFIX):
            return self.max_callback_bytes
        return self.max_multipart_bytes if content_type.lower().startswith(b'multipart/') else self.max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] != 'http' or scope.get('path', '').startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get('headers', []))
        limit = self.limit_for(scope.get('path', ''), headers.get(b'content-type', b''))
        length = headers.get(b'content-length')
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(send, limit)
            return
        # No length given (chunked): read it all here, up to the limit, then hand it on as one message.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message['type'] != 'http.request':
                await self.app(scope, receive, send)  # disconnected: let the app see it
                return
            chunks.append(message.get('body', b''))
            size += len(chunks[-1])
            if size > limit:
                await self._refuse(send, limit)
                return
            if not message.get('more_body', False):
                break
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {'type': 'http.request', 'body': b''.join(chunks), 'more_body': False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any, limit: int) -> None:
        body = json.dumps({'success': False, 'data': None, 'error': {
            'code': 'payload_too_large',
            'message': f'The request body is too large: the limit is {limit // 1024} KiB.'}}).encode()
        await send({'type': 'http.response.start', 'status': 413,
                    'headers': [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode()),
                                (b'connection', b'close')]})
        await send({'type': 'http.response.body', 'body': body})

