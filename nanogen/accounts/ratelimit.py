"""Per-user API request rate (token bucket), the request-body size guard, and bounded JSON parsing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from nanogen.errors import RateLimited

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
    """`rate` requests a minute per key, with bursts up to `rate`; in-process (each replica counts its own)."""

    def __init__(self, rate_per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(1, rate_per_minute)
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key -> (tokens, last refill time)

    def hit(self, key: int) -> None:
        """Take one request from `key`'s allowance, or raise RateLimited saying when the next one is allowed."""
        now = self.clock()
        per_second = self.rate / 60.0
        tokens, last = self._buckets.get(key, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - last) * per_second)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / per_second
            raise RateLimited(f'Too many requests: the limit is {self.rate} a minute. Try again in '
                              f'{max(1, round(wait))} s.', retry_after=max(1.0, wait))
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:  # forget idle users rather than grow without bound
            self._buckets.clear()


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

