"""Where image bytes live: the Storage protocol, a local-disk store and an S3/R2 store.

`python -m nanogen.images.migrate --help` copies a local image library into S3/R2.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

import boto3
import botocore.exceptions
from botocore.config import Config

from nanogen import retrying
from nanogen.errors import ConfigError, NotFound, StorageError

if TYPE_CHECKING:
    from nanogen.config import Settings

log = logging.getLogger(__name__)
T = TypeVar('T')

DEFAULT_CACHE_CONTROL = 'private, max-age=31536000, immutable'
CONTENT_TYPES = {'png': 'image/png', 'jpg': 'image/jpeg', 'jpeg': 'image/jpeg', 'webp': 'image/webp',
                 'gif': 'image/gif'}
VARIANTS = ('image', 'original', 'thumb')
MAX_KEY_LENGTH = 512  # images.key column width
_KEY_SEGMENT = re.compile(r'[A-Za-z0-9._-]+')
_TEMP_SUFFIX = '.partial'
_NOT_FOUND_CODES = {'NoSuchKey', 'NotFound', '404'}
_RETRYABLE_CODES = {'SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'InternalError',
                    'ServiceUnavailable', 'TooManyRequests', 'RequestLimitExceeded'}


class Storage(Protocol):
    """What the app needs from an object store; keys come from `object_key`."""

    name: str  # 'local' or 's3'

    async def put(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str = DEFAULT_CACHE_CONTROL) -> None: ...
    async def get(self, key: str) -> bytes: ...  # NotFound when missing
    async def delete(self, key: str) -> None: ...  # missing is fine
    async def exists(self, key: str) -> bool: ...
    async def presigned_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str | None: ...
    def public_url(self, key: str) -> str | None: ...
    async def ping(self) -> None: ...  # StorageError when unreachable
    async def list_keys(self, prefix: str) -> list[str]: ...


def object_key(user_id: int, prompt_id: int, position: int, variant: str, ext: str) -> str:
    """'users/<user>/<prompt>/<n>.<ext>'; '<n>.orig.<ext>' for the original; '<n>.thumb.webp' for the thumbnail.

    Thumbnails are always WebP whatever `ext` says (it is still checked), so callers can pass one ext.
    """
    for name, value, low in (('user_id', user_id, 1), ('prompt_id', prompt_id, 1), ('position', position, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f'{name} must be an int >= {low}, not {value!r}')
    ext = ext.lower().lstrip('.')
    if ext not in CONTENT_TYPES:
        raise ValueError(f'extension {ext!r} is not one of {sorted(CONTENT_TYPES)}')
    base = f'users/{user_id}/{prompt_id}/{position}'
    if variant == 'image':
        return f'{base}.{ext}'
    if variant == 'original':
        return f'{base}.orig.{ext}'
    if variant == 'thumb':
        return f'{base}.thumb.webp'
    raise ValueError(f'variant must be one of {VARIANTS}, not {variant!r}')


def content_type_for(key: str) -> str:
    """The content type a key's extension stands for; octet-stream when unknown."""
    return CONTENT_TYPES.get(key.rsplit('.', 1)[-1].lower(), 'application/octet-stream')


def check_key(key: str) -> str:
    """`key` if it is a plain relative path of safe segments; ValueError otherwise (no '..', no '/x')."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f'bad storage key {key!r}')
    segments = key.split('/')
    if any(s in ('', '.', '..') or not _KEY_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f'bad storage key {key!r}')
    return key


def _attachment(filename: str) -> str:
    """A Content-Disposition value that is safe whatever the name holds (quotes, slashes, non-ASCII)."""
    name = re.sub(r'[\x00-\x1f\x7f"\\/]+', '_', filename).strip() or 'image'
    ascii_name = name.encode('ascii', 'replace').decode('ascii').replace('?', '_')
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


# ---------------------------------------------------------------- local disk

class LocalStorage:
    """Files under `root/<key>`; writes are atomic, so a reader never sees half an image."""

    name = 'local'

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path_for(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # resolve() follows symlinks, so this also refuses a link inside root that points outside it.
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f'storage key {key!r} escapes the storage root')
        return path

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # the bytes are on disk before the name points at them
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str = DEFAULT_CACHE_CONTROL) -> None:
        path = self.path_for(key)  # content type and caching come from the serving route, not the file
        try:
            await asyncio.to_thread(self._write, path, data)
        except OSError as exc:
            raise StorageError('The image could not be saved.', detail=f'local put {key}: {exc}') from exc

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound('The image was not found.', detail=f'local get {key}') from None
        except OSError as exc:
            raise StorageError('The image could not be read.', detail=f'local get {key}: {exc}') from exc

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise StorageError('The image could not be deleted.', detail=f'local delete {key}: {exc}') from exc

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path_for(key).is_file)

    async def presigned_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str | None:
        return None  # the app streams local files through its guarded route

    def public_url(self, key: str) -> str | None:
        return None

    async def ping(self) -> None:
        def check() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise PermissionError(f'{self.root} is not writable')
        try:
            await asyncio.to_thread(check)
        except OSError as exc:
            raise StorageError('The image folder is not usable.', detail=str(exc)) from exc

    def _walk(self, prefix: str) -> list[str]:
        # Start at the deepest folder the prefix names, instead of walking the whole library.
        base = self.root.joinpath(*prefix.split('/')[:-1]) if '/' in prefix else self.root
        keys = []
        for folder, _dirs, files in os.walk(base):
            for file in files:
                if file.startswith('.') and file.endswith(_TEMP_SUFFIX):
                    continue  # a write in progress (or one interrupted by a crash)
                key = Path(folder, file).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def list_keys(self, prefix: str) -> list[str]:
        if '..' in prefix.split('/') or prefix.startswith('/'):
            raise ValueError(f'bad key prefix {prefix!r}')
        return await asyncio.to_thread(self._walk, prefix)


# ---------------------------------------------------------------- S3 / R2

@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None
    etag: str  # without quotes; the MD5 of the bytes for a single-part upload
    sha256: str | None  # from our `sha256` metadata, when the object was written by nanogen


def _error_code(exc: botocore.exceptions.ClientError) -> tuple[str, int]:
    return str(exc.response.get('Error', {}).get('Code', '')), int(
        exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode') or 0)


def _is_not_found(exc: Exception) -> bool:
    """The object is missing. A missing bucket is a setup fault, not a missing image (HEAD cannot tell)."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    code, status = _error_code(exc)
    return code != 'NoSuchBucket' and (code in _NOT_FOUND_CODES or status == 404)


def _is_retryable(exc: BaseException) -> bool:
    """A store failure that can succeed later: network trouble, 5xx, 429 and the throttling codes."""
    if isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        return True  # refused, reset, timed out
    if isinstance(exc, botocore.exceptions.ClientError):
        code, status = _error_code(exc)
        return status >= 500 or status == 429 or code in _RETRYABLE_CODES
    return False


class S3Storage:
    """Objects in one S3-compatible bucket (Cloudflare R2, MinIO, AWS); every boto3 call runs in a thread."""

    name = 's3'

    def __init__(self, *, bucket: str, endpoint_url: str, access_key_id: str, secret_access_key: str,
                 region: str = 'auto', public_url: str = '', retries: int = 4, backoff_base: float = 0.2,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, path_style: bool = True) -> None:
        self.bucket = bucket
        self.region = region
        self.retries = max(0, retries)
        self.backoff_base = backoff_base
        self._public_url = public_url.rstrip('/')
        self._sleep = sleep
        config = Config(
            signature_version='s3v4',
            s3={'addressing_style': 'path' if path_style else 'auto'},
            # One retry layer, ours (see _call): botocore's would multiply with it and sleep in a
            # thread where tests cannot speed it up.
            retries={'mode': 'standard', 'total_max_attempts': 1},
            connect_timeout=5, read_timeout=60, max_pool_connections=32,
            # S3-compatible stores (older MinIO, some R2 setups) reject the CRC trailers botocore sends
            # by default since 1.36; we send Content-MD5 on every put instead.
            request_checksum_calculation='when_required', response_checksum_validation='when_required',
        )
        # A private session: the default one is shared process-wide and not thread-safe to create clients on.
        session = boto3.session.Session(aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
                                        region_name=region)
        self._client = session.client('s3', endpoint_url=endpoint_url, config=config)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """R2 from R2_ACCOUNT_ID (region 'auto'), or any S3 endpoint from NANOGEN_S3_ENDPOINT_URL."""
        if not settings.s3_enabled:
            raise ConfigError('Object storage is not fully configured: set R2_BUCKET, R2_ACCESS_KEY_ID, '
                              'R2_SECRET_ACCESS_KEY and R2_ACCOUNT_ID (or NANOGEN_S3_ENDPOINT_URL).')
        explicit = bool(settings.s3_endpoint_url)
        return cls(bucket=settings.r2_bucket, endpoint_url=settings.s3_endpoint,
                   access_key_id=settings.r2_access_key_id, secret_access_key=settings.r2_secret_access_key,
                   region=(settings.s3_region or 'auto') if explicit else 'auto',
                   public_url=settings.r2_public_url, path_style=explicit)

    @property
    def client(self) -> Any:
        """The boto3 client (for event hooks in tests and diagnostics)."""
        return self._client

    def close(self) -> None:
        self._client.close()

    async def _call(self, what: str, fn: Callable[[], T], *, attempts: int | None = None) -> T:
        """Run `fn` in a thread; retry transient failures with exponential backoff and jitter.

        Not-found and other client errors are re-raised at once for the caller to map.
        """
        attempts = self.retries + 1 if attempts is None else attempts

        async def once() -> T:
            return await asyncio.to_thread(fn)

        def before_sleep(state: retrying.RetryCallState) -> None:
            log.warning('storage %s failed (%s); retry %d/%d in %.2fs', what, retrying.failure(state),
                        state.attempt_number, attempts - 1, state.upcoming_sleep)

        def give_up(state: retrying.RetryCallState) -> T:
            exc = retrying.failure(state)
            raise StorageError('The image store is not responding. Please try again in a moment.',
                               detail=f'{what}: {exc} (after {attempts} attempts)') from exc

        # "Equal jitter": growing delays that still spread concurrent retries apart.
        retryer = retrying.retrying(retry_if=_is_retryable, attempts=attempts, sleep=self._sleep,
                                    backoff=retrying.Backoff(self.backoff_base, 30.0, jitter='equal'),
                                    before_sleep=before_sleep, give_up=give_up)
        result: T = await retryer(once)
        return result

    @staticmethod
    def _failed(what: str, exc: Exception) -> StorageError:
        return StorageError('The image store refused the request.', detail=f'{what}: {exc}')

    async def put(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str = DEFAULT_CACHE_CONTROL) -> None:
        check_key(key)
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        params = dict(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, CacheControl=cache_control,
                      ContentMD5=md5, Metadata={'sha256': hashlib.sha256(data).hexdigest()})
        try:
            await self._call(f'put {key}', lambda: self._client.put_object(**params))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._failed(f'put {key}', exc) from exc

    async def get(self, key: str) -> bytes:
        check_key(key)

        def fetch() -> bytes:
            # Reading the body is network I/O too, so it belongs in the same thread (and the same retry).
            body = self._client.get_object(Bucket=self.bucket, Key=key)['Body']
            try:
                return bytes(body.read())
            finally:
                body.close()
        try:
            return await self._call(f'get {key}', fetch)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if _is_not_found(exc):
                raise NotFound('The image was not found.', detail=f's3 get {key}') from None
            raise self._failed(f'get {key}', exc) from exc

    async def stat(self, key: str) -> ObjectInfo | None:
        """Size, type, ETag and our sha256 metadata from a HEAD; None when the object is missing."""
        check_key(key)
        try:
            head = await self._call(f'head {key}', lambda: self._client.head_object(Bucket=self.bucket, Key=key))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if _is_not_found(exc):
                return None
            raise self._failed(f'head {key}', exc) from exc
        return ObjectInfo(size=int(head.get('ContentLength', 0)), content_type=head.get('ContentType'),
                          etag=str(head.get('ETag', '')).strip('"'), sha256=head.get('Metadata', {}).get('sha256'))

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        check_key(key)
        try:
            await self._call(f'delete {key}', lambda: self._client.delete_object(Bucket=self.bucket, Key=key))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if not _is_not_found(exc):  # S3 deletes are idempotent; some compatibles still say 404
                raise self._failed(f'delete {key}', exc) from exc

    async def presigned_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str | None:
        check_key(key)
        params = {'Bucket': self.bucket, 'Key': key, 'ResponseContentType': content_type_for(key)}
        if filename:
            params['ResponseContentDisposition'] = _attachment(filename)
        expires = max(1, min(int(expires_s), 7 * 24 * 3600))  # SigV4 refuses more than 7 days
        try:
            # Signing is local, but resolving credentials may not be: keep it off the event loop too.
            return await asyncio.to_thread(self._client.generate_presigned_url, 'get_object', Params=params,
                                           ExpiresIn=expires)
        except botocore.exceptions.BotoCoreError as exc:
            raise self._failed(f'presign {key}', exc) from exc

    def public_url(self, key: str) -> str | None:
        return f'{self._public_url}/{quote(check_key(key))}' if self._public_url else None

    async def ping(self) -> None:
        try:  # one attempt: a health check should answer quickly, not wait out the backoff
            await self._call('ping', lambda: self._client.head_bucket(Bucket=self.bucket), attempts=1)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise StorageError('The image store cannot be reached.', detail=f'ping {self.bucket}: {exc}') from exc

    async def list_keys(self, prefix: str) -> list[str]:
        def collect() -> list[str]:
            pages = self._client.get_paginator('list_objects_v2').paginate(Bucket=self.bucket, Prefix=prefix)
            return sorted(obj['Key'] for page in pages for obj in page.get('Contents', []))
        try:
            return await self._call(f'list {prefix}', collect)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._failed(f'list {prefix}', exc) from exc

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (first run against MinIO, moto in tests)."""
        try:
            await self._call('head bucket', lambda: self._client.head_bucket(Bucket=self.bucket))
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            missing = _is_not_found(exc) or (isinstance(exc, botocore.exceptions.ClientError)
                                             and _error_code(exc)[0] == 'NoSuchBucket')
            if not missing:
                raise self._failed(f'head bucket {self.bucket}', exc) from exc
        kwargs: dict[str, Any] = {'Bucket': self.bucket}
        if self.region not in ('', 'auto', 'us-east-1'):  # us-east-1 (and R2's 'auto') take no constraint
            kwargs['CreateBucketConfiguration'] = {'LocationConstraint': self.region}
        try:
            await self._call('create bucket', lambda: self._client.create_bucket(**kwargs))
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc)[0] != 'BucketAlreadyOwnedByYou':  # another instance won the race: fine
                raise self._failed(f'create bucket {self.bucket}', exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._failed(f'create bucket {self.bucket}', exc) from exc
