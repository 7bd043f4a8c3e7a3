"""Logging set-up: text or JSON lines, the prompt id on every line, and scrubbing of anything secret.

Scrubbing happens in the LogRecord factory, so every record is clean from birth: whatever handler sees it
(ours, pytest's caplog, a library's) never carries a secret. A filter on our handler cleans again, for records
built by hand.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from contextvars import ContextVar
from typing import Any

from nanogen.config import Settings

SECRET_PATTERNS = [
    re.compile(r'(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+'),
    re.compile(r'()\bngk_[A-Za-z0-9_-]{16,}'),  # our API tokens, by their prefix, wherever they appear
    re.compile(r'()\bwhsec_[A-Za-z0-9_-]{16,}'),  # webhook signing secrets, likewise
    re.compile(r'(?i)((?:api[_-]?key|token|secret|password|authorization|cookie|session|signature|x-amz-'
               r'credential|x-amz-signature)["\']?\s*[:=]\s*["\']?)[^\s"\',&;]+'),
]
MIN_SECRET_LENGTH = 6
# C0 and C1 controls, DEL and the Unicode line/paragraph separators: in a message they could forge a log line
# (a newline) or drive the reader's terminal (ANSI escapes start with ESC).
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')
_NAMED = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

# The prompt a piece of work is about: set it at the start of a generation task; every log line then carries it.
current_prompt_id: ContextVar[int | None] = ContextVar('nanogen_prompt_id', default=None)
_secrets: set[str] = set()
_base_factory: Any = None


def add_secrets(*values: str | None) -> None:
    """Known secret values (keys, tokens) to cut out of every log record from now on."""
    for value in values:
        if value and len(value) >= MIN_SECRET_LENGTH:
            _secrets.add(value)


def scrub(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(r'\1[redacted]', text)
    # Longest first, so a secret containing another is cut whole.
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, '[redacted]')
    return text


def escape_controls(text: str) -> str:
    """Control characters as visible escapes (`\\n`, `\\x1b`), so one message is always one line."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f'\\x{ord(m.group()):02x}' if ord(m.group()) < 0x100
                                             else f'\\u{ord(m.group()):04x}'), text)


def _clean(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep the raw parts, cleaned
        message = f'{record.msg} {record.args}'
    cleaned = scrub(message)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = ''.join(traceback.format_exception(*record.exc_info)).rstrip('\n')
    if record.exc_text:
        record.exc_text = scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)


class ContextLogRecord(logging.LogRecord):
    """A record that knows the prompt id current when it was made. It lives outside the instance dict, so an
    explicit `extra={'prompt_id': ...}` is still allowed (logging refuses extras that overwrite attributes)."""

    _context_prompt_id: int | None = None

    def __getattr__(self, name: str) -> Any:
        if name == 'prompt_id':
            return self._context_prompt_id
        raise AttributeError(name)


def _scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record: logging.LogRecord = _base_factory(*args, **kwargs)
    if type(record) is logging.LogRecord:
        record.__class__ = ContextLogRecord
        record._context_prompt_id = current_prompt_id.get()
    _clean(record)
    return record


def install_record_factory() -> None:
    """Idempotent: wraps the current factory once per process."""
    global _base_factory
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_scrubbing_factory)


class ScrubFilter(logging.Filter):
    """Cleans records that bypassed the factory, and adds the current prompt id (at emit time: same context)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _clean(record)
        if getattr(record, 'prompt_id', None) is None:
            record.prompt_id = current_prompt_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {'time': self.formatTime(record), 'level': record.levelname, 'logger': record.name,
                                'message': escape_controls(record.getMessage())}
        prompt_id = getattr(record, 'prompt_id', None) or current_prompt_id.get()
        if prompt_id is not None:
            data['prompt_id'] = prompt_id
        if record.exc_info or record.exc_text:
            data['exc'] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__('%(asctime)s %(levelname)s %(name)s: %(message)s')

    def formatMessage(self, record: logging.LogRecord) -> str:
        # Only the message is escaped: a traceback below it keeps its own (trusted) line breaks.
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        prompt_id = getattr(record, 'prompt_id', None) or current_prompt_id.get()
        return f'{line} [prompt={prompt_id}]' if prompt_id is not None else line


def setup_logging(settings: Settings) -> None:
    add_secrets(settings.nanobanana_api_key, settings.secret_key, settings.google_client_secret,
                settings.r2_secret_access_key, settings.r2_access_key_id, settings.metrics_token)
    install_record_factory()
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, '_nanogen', False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._nanogen = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.filters.clear()
    handler.addFilter(ScrubFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == 'json' else TextFormatter())
    logging.getLogger('nanogen').setLevel(settings.log_level.upper())
