"""The Nanobanana wire contract: paths, codes and messages, request bodies, response parsing and the retry rules.

Pure functions over JSON and headers (no I/O); the client in nanogen.provider.client sends and receives.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import re
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from nanogen.config import ASPECT_RATIOS
from nanogen.errors import (
    InvalidInput,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)

GENERATE_PATH = '/api/v1/nanobanana/generate'
GENERATE_PRO_PATH = '/api/v1/nanobanana/generate-pro'
GENERATE_2_PATH = '/api/v1/nanobanana/generate-2'
RECORD_INFO_PATH = '/api/v1/nanobanana/record-info'
CREDIT_PATH = '/api/v1/common/credit'
TEXT_TO_IMAGE = 'TEXTTOIAMGE'  # sic: the misspelling is the real wire value
IMAGE_TO_IMAGE = 'IMAGETOIAMGE'  # sic
MODEL_STANDARD, MODEL_PRO, MODEL_2 = 'nanobanana', 'nanobanana-pro', 'nanobanana-2'
PRO_RESOLUTIONS = ('1K', '2K', '4K')
PRO_MAX_IMAGE_URLS = 8
V2_RATIOS = ('1:1', '1:4', '1:8', '2:3', '3:2', '3:4', '4:1', '4:3', '4:5', '5:4', '8:1', '9:16', '16:9', '21:9', 'auto')
# Every ratio any model makes (Nano Banana's ten first, then 2's extra and 'auto'): what a library filter accepts.
ALL_RATIOS: tuple[str, ...] = (*ASPECT_RATIOS, *(r for r in V2_RATIOS if r not in ASPECT_RATIOS))
V2_MAX_IMAGE_URLS = 14
V2_MAX_PROMPT = 20_000
V2_OUTPUT_FORMATS = ('png', 'jpg')
MAX_IMAGES = 4
RETRYABLE_CODES = frozenset({429, 455, 500})

USER_MESSAGES: dict[int, str] = {
    400: 'The provider refused this prompt (content policy). Rephrase it and try again.',
    401: 'The provider rejected our API key. An admin must check NANOBANANA_API_KEY.',
    402: 'The provider account is out of credits. An admin must top it up.',
    404: 'The provider does not know this task (it may have expired).',
    422: 'The provider refused the request as invalid. Check the prompt and settings, then try again.',
    429: 'The provider is rate-limiting us.',
    455: 'The provider is under maintenance.',
    500: 'The provider had an internal error. Try again in a moment.',
    501: 'The provider could not generate this image. Try again or change the prompt.',
    505: 'This feature is disabled at the provider.',
}
_UNREADABLE = 'The provider sent an answer we could not read. Try again in a moment.'
_UNREACHABLE = 'The provider could not be reached. Try again in a moment.'
# A submit whose answer was lost may still have created (and charged) a task we cannot see: never resend it blindly.
_UNCONFIRMED = 'The provider did not confirm the request; it may still have been charged. Try again if needed.'
_BAD_IMAGE = 'The provider sent an image we could not read.'


class TaskState(enum.IntEnum):  # the service's successFlag
    GENERATING = 0
    SUCCESS = 1
    CREATE_FAILED = 2
    GENERATE_FAILED = 3


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    callback_url: str  # always sent as callBackUrl: the service documents it as required
    num_images: int = 1
    aspect_ratio: str = '1:1'  # wire field image_size (aspectRatio for Pro)
    image_urls: tuple[str, ...] = ()  # non-empty -> image-to-image
    watermark: str | None = None  # sent only when set (standard model only)
    model: str = MODEL_STANDARD  # or MODEL_PRO -> generate-pro, MODEL_2 -> generate-2
    resolution: str = '1K'  # Pro and 2 only: 1K, 2K or 4K
    google_search: bool = False  # 2 only: web-search grounding
    output_format: str = 'jpg'  # 2 only: png or jpg (the service's default is jpg)


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    state: TaskState
    result_urls: tuple[str, ...]  # per image: http(s) URL, data: URL or bare base64
    origin_urls: tuple[str, ...]  # upstream copies, a fallback; may be shorter or empty
    error_code: int | None  # None when the service reports none (missing or 0)
    error_message: str
    raw: dict[str, Any]  # the envelope's data, to store as response_data
    operation_type: str | None = None  # what was billed, e.g. 'nano-banana-2_1k' (generate-2 tasks)


@dataclass(frozen=True)
class CallbackNotice:
    task_id: str
    succeeded: bool | None  # None: still running or not said; confirm with record_info either way
    code: int
    message: str
    result_urls: tuple[str, ...]


def message_for_code(code: int) -> str:
    """A message a person can act on for a provider code (also for errorCode in records and callbacks)."""
    return USER_MESSAGES.get(code, f'The provider answered with an unexpected error (code {code}).')


PROMPT_FAULT_CODES = frozenset({400, 422})  # the request or its prompt: the person can fix it
PROVIDER_SIDE = "This is a problem on the provider's side, not your prompt"


def task_failed_message(code: int | None, reason: str) -> str:
    """Why an accepted task failed unbilled, whose fault it is and what to do: only 400/422 blame the prompt."""
    reason = reason.strip().rstrip('.') or 'the provider gave no reason'
    if code in PROMPT_FAULT_CODES:
        return (f'The provider could not generate this image: {reason}. '
                'Rephrase the prompt or change the settings, then press Retry.')
    if code is None:  # no code: we cannot tell whose fault it is, so say both
        return (f'The provider could not generate this image: {reason}. You were not charged. Press Retry; '
                'if it fails again, try a different prompt.')
    return (f'The provider could not generate this image: {reason}. {PROVIDER_SIDE} and you were not charged: '
            'press Retry in a few minutes.')


# --- the wire's retry rules, as predicates (tests/unit/test_retrying.py pins each code)
def retryable_code(code: int) -> bool:
    """An envelope code that can succeed later: 429 (rate limit), 455 (maintenance), 500 (internal error) only.
    400, 401, 402, 404, 422, 501, 505 and unknown codes are final."""
    return code in RETRYABLE_CODES


def retryable_status(status: int) -> bool:
    """An HTTP status that says "later" whatever the body claims: 429 and every 5xx."""
    return status == 429 or status >= 500


def never_sent(exc: httpx.TransportError) -> bool:
    """A transport failure before the request reached the service (connect refused/timed out, no pooled
    connection): even a submit can be resent. Anything later might have created (and billed) a task."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def error_for_code(code: int, *, detail: str | None = None, reason: str = '') -> ProviderError:
    """The exception for a non-200 provider code: only the retryable codes can succeed later. `reason`: the
    service's own message, kept (at most 300 characters) for messages that quote it (a refusal's reason)."""
    cls = (ProviderRateLimited if code == 429 else ProviderUnavailable if retryable_code(code)
           else ProviderRejected)
    return cls(message_for_code(code), provider_code=code, detail=detail, provider_message=reason[:300])


def _final(error: ProviderError) -> ProviderError:
    error.retryable = False  # this instance only: its class may be retryable in general
    return error


def _as_number(value: object) -> float | None:
    """A finite number from a number or a numeric string (never from a bool); None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _as_int(value: object) -> int | None:
    number = _as_number(value)
    return int(number) if number is not None and number.is_integer() else None


def _task_id(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        return None
    return str(value).strip()


def _message(body: dict[str, Any]) -> str:
    for key in ('msg', 'message'):  # both spellings occur
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ''


def _maybe_json(value: object) -> object:
    """Some integrations nest JSON as a string; unwrap it, leave anything else alone."""
    if isinstance(value, str) and value.strip().startswith(('{', '[')):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _urls(container: object, keys: tuple[str, ...]) -> tuple[str, ...]:
    """Collect the non-empty strings under `keys`, whether each holds a string or a list, in order, deduplicated."""
    container = _maybe_json(container)
    if not isinstance(container, dict):
        return ()
    found: list[str] = []
    for key in keys:
        value = _maybe_json(container.get(key))
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip() and item.strip() not in found:
                found.append(item.strip())
    return tuple(found)


_RESULT_KEYS = ('resultImageUrl', 'resultImageUrls', 'resultUrls')
_ORIGIN_KEYS = ('originImageUrl', 'originImageUrls', 'originUrls')


def _result_urls(data: dict[str, Any]) -> tuple[str, ...]:
    return (_urls(data.get('response'), _RESULT_KEYS) or _urls(data.get('info'), _RESULT_KEYS)
            or _urls(data, _RESULT_KEYS))


def _parse_record(data: object, task_id: str) -> TaskRecord:
    if not isinstance(data, dict):
        raise ProviderBadResponse(_UNREADABLE, detail=f'record-info data is {type(data).__name__}, not an object')
    flag = data.get('successFlag')
    state_value = 0 if flag is None else _as_int(flag)  # a missing flag means the service has not decided yet
    if state_value not in {s.value for s in TaskState}:
        raise ProviderBadResponse(_UNREADABLE, detail=f'unknown successFlag {flag!r}')
    error_message = data.get('errorMessage')
    return TaskRecord(task_id=_task_id(data.get('taskId')) or task_id, state=TaskState(state_value),
                      result_urls=_result_urls(data), origin_urls=_urls(data.get('response'), _ORIGIN_KEYS),
                      error_code=_as_int(data.get('errorCode')) or None,
                      error_message=error_message if isinstance(error_message, str) else '', raw=data,
                      operation_type=operation_type_of(data))


def operation_type_of(data: dict[str, Any]) -> str | None:
    """The billed `operationType` (e.g. 'nano-banana-2_1k'), wherever the answer puts it; None when absent."""
    for container in (data, _maybe_json(data.get('response')), _maybe_json(data.get('info'))):
        value = container.get('operationType') if isinstance(container, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()[:64]
    return None


# operationType's model names -> our model ids; the suffix after the last '_' is the resolution ('1k', '2k', '4k')
OPERATION_MODELS = {'nano-banana-2': MODEL_2, 'nano-banana-pro': MODEL_PRO, 'nano-banana': MODEL_STANDARD}


def billed_by(operation_type: str | None) -> tuple[str, str | None] | None:
    """(model id, resolution or None) named by an operationType; None when absent or not one we know."""
    if not operation_type:
        return None
    name, _, suffix = operation_type.strip().lower().rpartition('_')
    resolution = suffix.upper() if suffix.upper() in PRO_RESOLUTIONS else None
    model = OPERATION_MODELS.get(name if resolution else operation_type.strip().lower())
    return (model, resolution) if model else None


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when absent or unreadable."""
    seconds = _as_number(value) if value else None
    if seconds is None and value:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return None if seconds is None else max(0.0, seconds)


def _decode_inline(text: str, max_bytes: int) -> bytes:
    """Decode a `data:` URL or a bare base64 string, refusing oversize or non-base64 payloads."""
    payload = text
    if text.startswith('data:'):
        header, comma, payload = text.partition(',')
        if not comma or not header.lower().endswith(';base64'):
            raise _final(ProviderBadResponse(_BAD_IMAGE, detail='data: URL without a base64 payload'))
    payload = re.sub(r'\s+', '', payload)
    if len(payload) // 4 * 3 > max_bytes + 3:  # refuse before decoding what we would refuse anyway
        raise _final(ProviderBadResponse(_BAD_IMAGE, detail=f'inline image over {max_bytes} bytes'))
    altchars = b'-_' if ('-' in payload or '_' in payload) else None
    try:
        data = base64.b64decode(payload + '=' * (-len(payload) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _final(ProviderBadResponse(_BAD_IMAGE, detail='image is neither a URL nor base64')) from exc
    if not data or len(data) > max_bytes:
        raise _final(ProviderBadResponse(_BAD_IMAGE, detail=f'inline image empty or over {max_bytes} bytes'))
    return data


def _submit_body(req: GenerateRequest) -> tuple[str, dict[str, Any]]:
    """The endpoint and the exact JSON body for a request; refuses what the service would refuse."""
    if not req.prompt.strip():
        raise InvalidInput('Write a prompt first.', field='prompt')
    if not req.callback_url:
        raise InvalidInput('A callback URL is required by the provider.', field='callback_url')
    if req.model == MODEL_PRO:
        return GENERATE_PRO_PATH, _pro_body(req)
    if req.model == MODEL_2:
        return GENERATE_2_PATH, _v2_body(req)
    if req.model != MODEL_STANDARD:
        raise InvalidInput(f'Unknown model {req.model}.', field='model')
    if not 1 <= req.num_images <= MAX_IMAGES:
        raise InvalidInput(f'Ask for 1 to {MAX_IMAGES} images.', field='num_images')
    if req.aspect_ratio not in ASPECT_RATIOS:
        raise InvalidInput(f'Unsupported aspect ratio {req.aspect_ratio}.', field='aspect_ratio')
    body: dict[str, Any] = {'prompt': req.prompt, 'type': IMAGE_TO_IMAGE if req.image_urls else TEXT_TO_IMAGE,
                            'numImages': req.num_images, 'image_size': req.aspect_ratio,
                            'callBackUrl': req.callback_url}
    if req.image_urls:
        body['imageUrls'] = list(req.image_urls)
    if req.watermark:
        body['watermark'] = req.watermark
    return GENERATE_PATH, body


def _one_image_checks(req: GenerateRequest, ratios: tuple[str, ...], max_urls: int) -> None:
    if req.num_images != 1:  # one image per task; the caller submits several tasks instead
        raise InvalidInput('This model makes one image per request.', field='num_images')
    if req.aspect_ratio not in ratios:
        raise InvalidInput(f'Unsupported aspect ratio {req.aspect_ratio}.', field='aspect_ratio')
    if req.resolution not in PRO_RESOLUTIONS:
        raise InvalidInput(f'Unsupported resolution {req.resolution}.', field='resolution')
    if len(req.image_urls) > max_urls:
        raise InvalidInput(f'At most {max_urls} reference images.', field='image_urls')


def _pro_body(req: GenerateRequest) -> dict[str, Any]:
    _one_image_checks(req, (*ASPECT_RATIOS, 'auto'), PRO_MAX_IMAGE_URLS)
    body: dict[str, Any] = {'prompt': req.prompt}
    if req.image_urls:
        body['imageUrls'] = list(req.image_urls)
    body.update(resolution=req.resolution, aspectRatio=req.aspect_ratio, callBackUrl=req.callback_url)
    return body


def _v2_body(req: GenerateRequest) -> dict[str, Any]:
    """generate-2: imageUrls is always sent (an empty list means text-to-image), as are the two new fields."""
    _one_image_checks(req, V2_RATIOS, V2_MAX_IMAGE_URLS)
    if len(req.prompt) > V2_MAX_PROMPT:
        raise InvalidInput(f'The prompt is too long: the limit is {V2_MAX_PROMPT} characters.', field='prompt')
    if req.output_format not in V2_OUTPUT_FORMATS:
        raise InvalidInput(f'Unsupported output format {req.output_format}.', field='output_format')
    return {'prompt': req.prompt, 'imageUrls': list(req.image_urls), 'aspectRatio': req.aspect_ratio,
            'resolution': req.resolution, 'googleSearch': bool(req.google_search),
            'outputFormat': req.output_format, 'callBackUrl': req.callback_url}
