"""Reference images for image-to-image: validate an upload, store it, and hand the provider a URL it can fetch."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import re
import uuid
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from nanogen import pools
from nanogen.config import Settings
from nanogen.errors import InvalidInput, NotFound
from nanogen.images import pipeline as imaging
from nanogen.images.storage import Storage

log = logging.getLogger(__name__)
URL_LIFETIME_S = 3600  # the provider fetches references soon after submission; an hour covers its retries
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
PREVIEW_EDGE = 160
REFERENCE_EDGE = 2048  # the provider works at 1536 px at most: larger references only cost memory
_KEY = re.compile(r'^users/[1-9][0-9]*/refs/[0-9a-f]{32}\.png$')
_KEY_AT_END = re.compile(r'(users/[1-9][0-9]*/refs/[0-9a-f]{32}\.png)$')


@dataclass(frozen=True)
class Reference:
    """A stored reference image: its storage key and a small preview (a data URL) to show on the page."""

    key: str
    preview: str
    width: int
    height: int


def _prepare(data: bytes, max_pixels: int) -> tuple[bytes, str, int, int]:
    """Decode (checks it is one acceptable image), re-encode as PNG without metadata, and make a preview."""
    img = imaging.decode(data, source='upload', max_bytes=MAX_UPLOAD_BYTES, max_pixels=max_pixels,
                         max_edge=REFERENCE_EDGE)
    out = io.BytesIO()
    img.save(out, format='PNG')
    preview = img.copy()
    preview.thumbnail((PREVIEW_EDGE, PREVIEW_EDGE))
    buf = io.BytesIO()
    preview.convert('RGB').save(buf, format='JPEG', quality=75)
    return out.getvalue(), 'data:image/jpeg;base64,' + base64.b64encode(buf.getvalue()).decode(), *img.size


class ReferenceStore:
    """Where uploaded reference images live (`users/<uid>/refs/<uuid>.png`) and how the provider reaches them."""

    def __init__(self, *, storage: Storage, settings: Settings, secret_key: str) -> None:
        self.storage = storage
        self.settings = settings
        self._signer = URLSafeTimedSerializer(secret_key, salt='nanogen.reference')
        # One decode at a time in this process: a few large uploads at once must not add up to gigabytes.
        self._decode_slot = asyncio.Semaphore(1)

    @property
    def available(self) -> bool:
        """The provider can fetch a reference: presigned object URLs, our public URL, or the demo (which ignores them)."""
        return self.storage.name == 's3' or bool(self.settings.public_url) or self.settings.demo_mode

    @property
    def unavailable_reason(self) -> str:
        return ('Reference images need NANOGEN_PUBLIC_URL (so the provider can fetch them from this app) '
                'or R2/S3 storage.')

    async def save(self, user_id: int, data: bytes) -> Reference:
        """Validate and store one upload; ImageError (with a message for the person) when it is not acceptable."""
        if not self.available:
            raise InvalidInput(self.unavailable_reason, field='reference')
        max_pixels = min(self.settings.reference_max_pixels, self.settings.max_image_pixels)
        async with self._decode_slot:
            png, preview, width, height = await pools.in_images(_prepare, data, max_pixels)
        key = f'users/{user_id}/refs/{uuid.uuid4().hex}.png'
        await self.storage.put(key, png, content_type='image/png')
        log.info('user %s stored reference image %s', user_id, key)
        return Reference(key=key, preview=preview, width=width, height=height)

    async def url_for(self, user_id: int, key: str) -> str:
        """A URL the provider can fetch for an hour; only for the user's own reference keys."""
        if not _KEY.match(key) or not key.startswith(f'users/{user_id}/'):
            raise NotFound('That reference image does not exist.')
        presigned = await self.storage.presigned_url(key, expires_s=URL_LIFETIME_S)
        if presigned:
            return presigned
        return f'{self._base()}/refs/{self._signer.dumps(key)}'

    def _base(self) -> str:
        return self.settings.public_url or f'http://localhost:{self.settings.port}'  # demo: never fetched

    def key_of(self, url: str) -> str | None:
        """The reference key behind a URL this store signed (at any age), or None for any other URL."""
        prefix = f'{self._base()}/refs/'
        if url.startswith(prefix):
            try:
                key = self._signer.loads(url[len(prefix):])  # no max_age: renewing an old URL is the point
            except BadSignature:
                return None
            return key if isinstance(key, str) and _KEY.match(key) else None
        parts = urlsplit(url)
        if self.storage.name == 's3' and 'X-Amz-Signature=' in parts.query:
            found = _KEY_AT_END.search(unquote(parts.path))
            return found.group(1) if found else None
        return None

    async def refresh(self, user_id: int, urls: tuple[str, ...]) -> tuple[str, ...]:
        """The URLs again, each of the user's own stored references signed anew: a queued batch row, a retry or a
        remix may reach the provider hours after its URL was signed (they last URL_LIFETIME_S). Other URLs (a
        caller's own https links, another user's key) are passed on unchanged."""
        out = []
        for url in urls:
            key = self.key_of(url)
            out.append(await self.url_for(user_id, key) if key and key.startswith(f'users/{user_id}/') else url)
        return tuple(out)

    async def discard(self, user_id: int, key: str) -> None:
        if _KEY.match(key) and key.startswith(f'users/{user_id}/'):
            await self.storage.delete(key)

    async def open(self, token: str) -> bytes:
        """The bytes behind a signed reference URL; NotFound for a bad, expired or foreign token."""
        try:
            key = self._signer.loads(token, max_age=URL_LIFETIME_S)
        except SignatureExpired:
            raise NotFound('That reference link has expired.') from None
        except BadSignature:
            raise NotFound('That reference image does not exist.') from None
        if not isinstance(key, str) or not _KEY.match(key):
            raise NotFound('That reference image does not exist.')
        return await self.storage.get(key)
