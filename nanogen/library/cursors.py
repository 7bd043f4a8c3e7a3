"""Keyset cursors for the library's lists: a cursor names the last row seen (list kind, sort, sort value, id)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from nanogen.errors import InvalidInput

BAD_CURSOR = 'The cursor is not valid: start again without one, or pass next_cursor exactly as received.'


def encode_cursor(kind: str, sort: str, value: str | int, last_id: int) -> str:
    raw = json.dumps([kind, sort, value, last_id], separators=(',', ':')).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip('=')


def decode_cursor(cursor: str | None, kind: str, sort: str) -> tuple[object, int] | None:
    """The (sort value, id) a cursor names; a cursor from another list or sort order is refused, not guessed at."""
    if cursor is None or cursor == '':
        return None
    try:
        if len(cursor) > 512:
            raise ValueError('too long')
        data = json.loads(base64.urlsafe_b64decode(cursor + '=' * (-len(cursor) % 4)))
        c_kind, c_sort, value, last_id = data
        if c_kind != kind or c_sort != sort or isinstance(last_id, bool) or not isinstance(last_id, int):
            raise ValueError('another list')
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError('bad value')
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(BAD_CURSOR, field='cursor') from None
    return value, last_id


def parse_time(raw: object) -> datetime:
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except ValueError:
        raise InvalidInput(BAD_CURSOR, field='cursor') from None
