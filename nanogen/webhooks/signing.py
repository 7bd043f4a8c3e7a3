"""How a delivery is signed: HMAC-SHA256 of "{timestamp}.{body}" with the endpoint's secret (docs/webhooks.md)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = 'whsec_'
EVENT_HEADER = 'X-Nanogen-Event'
DELIVERY_HEADER = 'X-Nanogen-Delivery'
TIMESTAMP_HEADER = 'X-Nanogen-Timestamp'
SIGNATURE_HEADER = 'X-Nanogen-Signature'


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Nanogen-Signature value: `sha256=<hex>`."""
    mac = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256)
    return 'sha256=' + mac.hexdigest()


def headers(*, secret: str, event: str, delivery_id: int, timestamp: int, body: bytes) -> dict[str, str]:
    return {'Content-Type': 'application/json', 'User-Agent': 'nanogen-webhooks/1',
            EVENT_HEADER: event, DELIVERY_HEADER: str(delivery_id), TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: str, timestamp: str, body: bytes, signed: str) -> bool:
    """What a receiver does (docs/webhooks.md has the standalone snippet): constant-time compare."""
    try:
        expected = signature(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signed)
