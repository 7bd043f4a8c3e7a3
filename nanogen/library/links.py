"""The life of a public link, the same for an image's share link and a board's link: an expiry that must lie ahead,
only the token's hash stored, a revoke that keeps the first revoke time, and "revoked or expired" decided once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, Protocol

from nanogen.accounts.tokens import hash_token
from nanogen.errors import InvalidInput

__all__ = ['Revocable', 'expires_at', 'hash_token', 'is_live', 'link_state', 'revoke']

LinkState = Literal['live', 'expired', 'revoked']


class Revocable(Protocol):
    revoked_at: datetime | None


def expires_at(now: datetime, expires_in: timedelta | None) -> datetime | None:
    """When a link made `now` stops working (None: never); refuses an expiry that is not ahead."""
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput('A link must stay valid for some time: choose a later expiry.', field='expires_in')
    return now + expires_in if expires_in else None


def link_state(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> LinkState:
    """'revoked', 'expired' or 'live' at `now` (revoked wins: it was a person's decision)."""
    if revoked_at is not None:
        return 'revoked'
    if expires_at is not None and expires_at <= now:
        return 'expired'
    return 'live'


def is_live(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
    return link_state(revoked_at, expires_at, now) == 'live'


def revoke(link: Revocable, now: datetime) -> bool:
    """Mark a link revoked at `now` unless it already is; True when it changed (the caller saves it)."""
    if link.revoked_at is not None:
        return False
    link.revoked_at = now
    return True
