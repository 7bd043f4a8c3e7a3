"""The S3/R2 store: boto3 calls off the event loop, retried by nanogen.retrying, presigned delivery."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import boto3
import botocore.exceptions
from botocore.config import Config

from nanogen import pools, retrying
from nanogen.errors import ConfigError, NotFound, StorageError

if TYPE_CHECKING:
    from nanogen.config import Settings

from nanogen.images.storage import DEFAULT_CACHE_CONTROL, attachment_disposition, check_key, content_type_for

log = logging.getLogger(__name__)

T = TypeVar('T')
_NOT_FOUND_CODES = {'NoSuchKey', 'NotFound', '404'}
_RETRYABLE_CODES = {'SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'InternalError',
                    'ServiceUnavailable', 'TooManyRequests', 'RequestLimitExceeded'}


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
            return await pools.in_storage(fn)

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
            params['ResponseContentDisposition'] = attachment_disposition(filename)
        expires = max(1, min(int(expires_s), 7 * 24 * 3600))  # SigV4 refuses more than 7 days
        try:
            # Signing is local, but resolving credentials may not be: keep it off the event loop too.
            return await pools.in_storage(self._client.generate_presigned_url, 'get_object', Params=params,
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
