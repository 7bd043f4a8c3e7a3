"""The Nanobanana API client: submit, poll, credit, download and callback parsing, with safe retries."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from nanogen import retrying
from nanogen.errors import (
    ConfigError,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from nanogen.provider.wire import (
    _BAD_IMAGE,
    _UNCONFIRMED,
    _UNREACHABLE,
    _UNREADABLE,
    CREDIT_PATH,
    GENERATE_2_PATH,
    GENERATE_PATH,
    GENERATE_PRO_PATH,
    IMAGE_TO_IMAGE,
    MAX_IMAGES,
    MODEL_2,
    MODEL_PRO,
    MODEL_STANDARD,
    PRO_MAX_IMAGE_URLS,
    PRO_RESOLUTIONS,
    PROVIDER_SIDE,
    RECORD_INFO_PATH,
    RETRYABLE_CODES,
    TEXT_TO_IMAGE,
    USER_MESSAGES,
    V2_MAX_IMAGE_URLS,
    V2_RATIOS,
    CallbackNotice,
    GenerateRequest,
    TaskRecord,
    TaskState,
    _as_int,
    _as_number,
    _decode_inline,
    _final,
    _message,
    _parse_record,
    _result_urls,
    _retry_after,
    _submit_body,
    _task_id,
    billed_by,
    error_for_code,
    message_for_code,
    never_sent,
    operation_type_of,
    retryable_code,
    retryable_status,
    task_failed_message,
)

__all__ = [  # the wire's names stay importable from here, where callers have always found them
    'CREDIT_PATH',
    'GENERATE_2_PATH',
    'GENERATE_PATH',
    'GENERATE_PRO_PATH',
    'IMAGE_TO_IMAGE',
    'MAX_IMAGES',
    'MODEL_2',
    'MODEL_PRO',
    'MODEL_STANDARD',
    'PROVIDER_SIDE',
    'PRO_MAX_IMAGE_URLS',
    'PRO_RESOLUTIONS',
    'RECORD_INFO_PATH',
    'RETRYABLE_CODES',
    'TEXT_TO_IMAGE',
    'USER_MESSAGES',
    'V2_MAX_IMAGE_URLS',
    'V2_RATIOS',
    'CallbackNotice',
    'GenerateRequest',
    'NanobananaClient',
    'TaskRecord',
    'TaskState',
    'billed_by',
    'error_for_code',
    'message_for_code',
    'never_sent',
    'operation_type_of',
    'retryable_code',
    'retryable_status',
    'task_failed_message',
]

log = logging.getLogger(__name__)
T = TypeVar('T')


class _Attempt:  # what one attempt learned that the retry loop needs
    retry_after: float | None = None


class NanobananaClient:
    """Speaks the wire contract of docs/nanobanana-api.md over an injected httpx.AsyncClient."""

    def __init__(self, http: httpx.AsyncClient, *, api_key: str, base_url: str, retries: int = 4,
                 backoff_base: float = 0.5, backoff_max: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, rng: Callable[[], float] = random.random,
                 on_retry: Callable[[ProviderError, float, int], Any] | None = None) -> None:
        base = httpx.URL(base_url.rstrip('/'))
        if base.scheme not in ('http', 'https') or not base.host:
            raise ConfigError('NANOBANANA_BASE_URL must be an http(s) URL')
        self._http = http
        self._api_key = api_key
        self._base_url = str(base).rstrip('/')
        self._origin = (base.scheme, base.host, base.port)
        self._retries = max(0, retries)
        self._backoff_base, self._backoff_max = backoff_base, backoff_max
        self._sleep, self._rng, self._on_retry = sleep, rng, on_retry
        # An empty key (demo provider) sends no header: `Bearer ` alone is not a valid header value.
        self._auth = {'Authorization': f'Bearer {api_key}'} if api_key else {}

    # --- public API
    async def submit(self, req: GenerateRequest) -> str:
        """Create a task and return its taskId."""
        path, body = _submit_body(req)
        data = await self._api('POST', path, json_body=body, idempotent=False)
        task_id = _task_id(data.get('taskId')) if isinstance(data, dict) else None
        if task_id is None:
            raise _final(ProviderBadResponse(_UNCONFIRMED, detail='submit answer has no taskId'))
        return task_id

    async def record_info(self, task_id: str) -> TaskRecord:
        data = await self._api('GET', RECORD_INFO_PATH, params={'taskId': task_id})
        return _parse_record(data, task_id)

    async def credit(self) -> float:
        data = await self._api('GET', CREDIT_PATH)
        if isinstance(data, dict):  # liberal: some integrations wrap the number
            data = data.get('credit', data.get('credits'))
        credit = _as_number(data)
        if credit is None:
            raise ProviderBadResponse(_UNREADABLE, detail=f'credit is not a number: {type(data).__name__}')
        return credit

    async def download(self, url: str, *, max_bytes: int, timeout: float = 60.0) -> bytes:
        """The image bytes behind a result: an http(s) URL (streamed, size-capped, retried) or inline base64."""
        url = url.strip()
        if url.lower().startswith(('http://', 'https://')):
            host = httpx.URL(url).host  # log the host only: presigned URLs carry credentials
            return await self._with_retries(f'download from {host}',
                                            lambda hint: self._download_once(url, max_bytes, timeout, hint))
        return _decode_inline(url, max_bytes)

    @staticmethod
    def parse_callback(body: object) -> CallbackNotice:
        """Read either callback shape. Callbacks are unsigned: confirm with record_info before trusting one."""
        if isinstance(body, bytes | str):
            try:
                body = json.loads(body)
            except ValueError as exc:
                raise ProviderBadResponse(_UNREADABLE, detail='callback is not JSON') from exc
        if not isinstance(body, dict) or not isinstance(body.get('data'), dict):
            raise ProviderBadResponse(_UNREADABLE, detail='callback has no data object')
        data: dict[str, Any] = body['data']
        task_id = _task_id(data.get('taskId'))
        if task_id is None:
            raise ProviderBadResponse(_UNREADABLE, detail='callback has no taskId')
        code = _as_int(body.get('code'))
        flag = _as_int(data.get('successFlag'))
        succeeded: bool | None
        if flag is not None:  # the newer shape: data is the record-info data
            succeeded = {1: True, 2: False, 3: False}.get(flag)
            error_code = _as_int(data.get('errorCode')) or None
            code = error_code if not succeeded and error_code else (code if code is not None else 200)
        elif code is not None:  # the older shape: the envelope code says how it ended
            succeeded = code == 200
        else:
            raise ProviderBadResponse(_UNREADABLE, detail='callback has neither code nor successFlag')
        error_message = data.get('errorMessage')
        message = error_message if isinstance(error_message, str) and error_message else _message(body)
        return CallbackNotice(task_id=task_id, succeeded=succeeded, code=code, message=message,
                              result_urls=_result_urls(data))

    # --- the wire
    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, '[redacted]') if self._api_key else text

    async def _api(self, method: str, path: str, *, json_body: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None, idempotent: bool = True) -> Any:
        async def attempt(hint: _Attempt) -> Any:
            try:
                response = await self._http.request(method, self._base_url + path, json=json_body, params=params,
                                                    headers={**self._auth, 'Accept': 'application/json'})
            except httpx.TransportError as exc:
                detail = self._redact(f'{method} {path}: {type(exc).__name__}: {exc}')
                if idempotent or never_sent(exc):
                    raise ProviderUnavailable(_UNREACHABLE, detail=detail) from exc
                raise _final(ProviderUnavailable(_UNCONFIRMED, detail=detail)) from exc
            hint.retry_after = _retry_after(response.headers.get('Retry-After'))
            try:
                return self._unwrap(response, f'{method} {path}')
            except ProviderBadResponse as exc:
                if idempotent:
                    raise
                raise _final(ProviderBadResponse(_UNCONFIRMED, detail=exc.detail)) from exc
        return await self._with_retries(f'{method} {path}', attempt)

    def _unwrap(self, response: httpx.Response, what: str) -> Any:
        """The envelope's data, or the mapped error: the envelope code rules even under HTTP 200."""
        status = response.status_code
        readable = True
        try:
            body = response.json()
        except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
            body, readable = None, False
        envelope = body if isinstance(body, dict) else {}
        code = _as_int(envelope.get('code'))
        detail = self._redact(f'{what}: HTTP {status}, code {code}, message {_message(envelope)!r}')
        if retryable_status(status):
            # The HTTP layer says "later" whatever the body claims; keep the envelope code when it is meaningful.
            provider_code = code if code is not None and retryable_code(code) else status
            if status == 429 or provider_code == 429:
                raise ProviderRateLimited(message_for_code(429), provider_code=provider_code, detail=detail)
            message = message_for_code(provider_code) if retryable_code(provider_code) else (
                f'The provider is having trouble (HTTP {status}). Try again in a moment.')
            raise ProviderUnavailable(message, provider_code=provider_code, detail=detail)
        if not readable:
            snippet = self._redact(response.text[:200])
            raise ProviderBadResponse(_UNREADABLE, detail=f'{what}: HTTP {status}, not JSON: {snippet!r}')
        if code is None:
            if status >= 400:
                raise error_for_code(status, detail=detail)
            raise ProviderBadResponse(_UNREADABLE, detail=f'{what}: no envelope code')
        if code != 200:
            raise error_for_code(code, detail=detail, reason=self._redact(_message(envelope)))
        if status >= 400:  # a "success" envelope under an HTTP error: believe the HTTP status
            raise error_for_code(status, detail=detail)
        return envelope.get('data')

    async def _download_once(self, url: str, max_bytes: int, timeout: float, hint: _Attempt) -> bytes:
        target = httpx.URL(url)
        # The bearer goes only to the service itself, never to CDNs or object stores (httpx also drops
        # Authorization on cross-origin redirects).
        headers = self._auth if (target.scheme, target.host, target.port) == self._origin else {}
        where = f'download from {target.host}'
        too_big = _final(ProviderBadResponse(_BAD_IMAGE, detail=f'{where}: image over {max_bytes} bytes'))
        try:
            async with asyncio.timeout(timeout):
                async with self._http.stream('GET', target, headers=headers, timeout=timeout,
                                             follow_redirects=True) as response:
                    status = response.status_code
                    hint.retry_after = _retry_after(response.headers.get('Retry-After'))
                    if retryable_status(status):
                        cls = ProviderRateLimited if status == 429 else ProviderUnavailable
                        raise cls(f'The image download failed (HTTP {status}). Try again in a moment.',
                                  provider_code=status, detail=f'{where}: HTTP {status}')
                    if status >= 400:
                        raise ProviderRejected('The generated image is no longer available at the provider.',
                                               provider_code=status, detail=f'{where}: HTTP {status}')
                    declared = _as_int(response.headers.get('Content-Length'))
                    if declared is not None and declared > max_bytes:
                        raise too_big
                    buffer = bytearray()
                    async for chunk in response.aiter_bytes():  # decoded bytes: also caps compression bombs
                        buffer.extend(chunk)
                        if len(buffer) > max_bytes:
                            raise too_big
        except TimeoutError as exc:
            raise ProviderUnavailable('The image download timed out. Try again in a moment.',
                                      detail=f'{where}: over {timeout}s') from exc
        except httpx.TransportError as exc:
            raise ProviderUnavailable(_UNREACHABLE, detail=self._redact(f'{where}: {type(exc).__name__}')) from exc
        except httpx.DecodingError as exc:
            raise ProviderBadResponse(_BAD_IMAGE, detail=f'{where}: undecodable content encoding') from exc
        if not buffer:
            raise ProviderBadResponse(_BAD_IMAGE, detail=f'{where}: empty body')
        return bytes(buffer)

    async def _with_retries(self, what: str, attempt: Callable[[_Attempt], Awaitable[T]]) -> T:
        """Run `attempt` until it succeeds, fails for good, or the retries are spent (then raise the last error)."""
        async def once() -> T:
            hint = _Attempt()
            try:
                return await attempt(hint)
            except ProviderError as error:
                error.retry_after = hint.retry_after  # the wait honours it (capped)
                raise

        async def before_sleep(state: retrying.RetryCallState) -> None:
            error = retrying.failure(state)
            assert isinstance(error, ProviderError)
            delay, number = state.upcoming_sleep, state.attempt_number
            log.warning('Nanobanana %s failed (%s: %s); retry %d of %d in %.2fs', what, type(error).__name__,
                        error.provider_code, number, self._retries, delay)
            if self._on_retry is not None:
                result = self._on_retry(error, delay, number)
                if inspect.isawaitable(result):
                    await result

        # Full jitter spreads clients out; Retry-After is honoured, capped so no header stalls a job.
        retryer = retrying.retrying(
            retry_if=retrying.provider_may_succeed_later, attempts=self._retries + 1,
            backoff=retrying.Backoff(self._backoff_base, self._backoff_max, jitter='full'), rng=self._rng,
            retry_after=retrying.retry_after_of, sleep=self._sleep, before_sleep=before_sleep)
        result: T = await retryer(once)
        return result
