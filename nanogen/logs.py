"""Logging set-up: text or JSON lines, and a filter that scrubs anything that looks like a secret."""

from __future__ import annotations

import json
import logging
import re

from .config import Settings

SECRET_PATTERNS = [re.compile(r'(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+'),
                   re.compile(r'(?i)((?:api[_-]?key|token|secret|password|authorization)["\']?\s*[:=]\s*["\']?)[^\s"\',&]+')]


def scrub(text: str) -> str:
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(r'\1[redacted]', text)
    return text


class ScrubFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, '[redacted]')
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {'time': self.formatTime(record), 'level': record.levelname, 'logger': record.name,
                'message': record.getMessage()}
        if record.exc_info:
            data['exc'] = self.formatException(record.exc_info)
        return json.dumps(data)


def setup_logging(settings: Settings) -> None:
    root = logging.getLogger()
    secrets = [settings.nanobanana_api_key, settings.secret_key, settings.google_client_secret,
               settings.r2_secret_access_key, settings.metrics_token]
    handler = next((h for h in root.handlers if getattr(h, '_nanogen', False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._nanogen = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.filters.clear()
    handler.addFilter(ScrubFilter(secrets))
    handler.setFormatter(JsonFormatter() if settings.log_format == 'json'
                         else logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
    logging.getLogger('nanogen').setLevel(settings.log_level.upper())
