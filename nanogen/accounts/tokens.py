"""Personal API tokens: created once, stored only as a sha256 hash, looked up on every `Authorization: Bearer`."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.models import ApiToken, User, utcnow

log = logging.getLogger(__name__)
TOKEN_PREFIX = 'ngk_'
MAX_NAME = 100
MAX_EXPIRY_DAYS = 3650
MAX_TOKENS_PER_USER = 50
# What a token may do under /api/v1 (it works nowhere else): read = GET only; generate = everything on the owner's
# own library; admin = that plus admin rights, for admins only.
SCOPES = ('read', 'generate', 'admin')


def hash_token(token: str) -> str:
    """The one hash stored instead of a secret: API tokens, server-side session ids, share-link tokens."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """What the profile page and API may show about a token: never the token or its hash."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    scope: str = 'generate'

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


@dataclass(frozen=True)
class NewToken:
    """The result of creating a token: `secret` is shown to its owner once and never stored."""

    info: TokenInfo
    secret: str


def _info(row: ApiToken) -> TokenInfo:
    assert row.id is not None
    return TokenInfo(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at,
                     expires_at=row.expires_at, last_used_at=row.last_used_at, scope=row.scope)


class TokenService:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow,
                 last_used_every: timedelta = timedelta(minutes=1)) -> None:
        self.db = db
        self.clock = clock
        # Writing last_used_at on every request would make each API call a write; a minute's precision is plenty.
        self.last_used_every = last_used_every

    @staticmethod
    def validate(name: str, expires_in_days: int | None) -> tuple[str, int | None]:
        name = (name or '').strip()
        if not name:
            raise InvalidInput('Give the token a name, like "laptop script".', field='name')
        if len(name) > MAX_NAME:
            raise InvalidInput(f'The name is too long: use at most {MAX_NAME} characters.', field='name')
        if expires_in_days is not None and not 1 <= int(expires_in_days) <= MAX_EXPIRY_DAYS:
            raise InvalidInput(f'Expiry must be between 1 and {MAX_EXPIRY_DAYS} days, or empty for none.',
                               field='expires_in_days')
        return name, None if expires_in_days is None else int(expires_in_days)

    async def create(self, user_id: int, name: str, *, expires_in_days: int | None = None,
                     scope: str = 'generate') -> NewToken:
        name, days = self.validate(name, expires_in_days)
        if scope not in SCOPES:
            raise InvalidInput('Choose a scope: read, generate or admin.', field='scope')
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()

        def work(s: Session) -> ApiToken:
            active = s.exec(select(ApiToken).where(col(ApiToken.user_id) == user_id,
                                                   col(ApiToken.revoked_at).is_(None))).all()
            owner = s.get(User, user_id)
            if scope == 'admin' and (owner is None or not owner.is_admin):
                raise InvalidInput('Only admins can create tokens with the admin scope.', field='scope')
            if len(active) >= MAX_TOKENS_PER_USER:
                raise InvalidInput(f'You have {MAX_TOKENS_PER_USER} tokens: revoke one before creating another.')
            row = ApiToken(user_id=user_id, name=name, token_hash=hash_token(secret), prefix=secret[:12], scope=scope,
                           expires_at=now + timedelta(days=days) if days else None, created_at=now)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row
        row = await self.db.write(work)
        log.info('user %s created API token %s', user_id, row.id)
        return NewToken(info=_info(row), secret=secret)

    async def list(self, user_id: int) -> list[TokenInfo]:
        """The user's tokens that are not revoked, newest first (expired ones stay listed, marked expired)."""
        def work(s: Session) -> list[ApiToken]:
            return list(s.exec(select(ApiToken).where(col(ApiToken.user_id) == user_id, col(ApiToken.revoked_at).is_(None))
                               .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())))
        return [_info(r) for r in await self.db.run(work)]

    async def revoke(self, user_id: int, token_id: int) -> None:
        """Revoke one of the user's tokens; someone else's id gets the same NotFound as a missing one."""
        def work(s: Session) -> bool:
            row = s.get(ApiToken, token_id)
            if row is None or row.user_id != user_id or row.revoked_at is not None:
                return False
            row.revoked_at = self.clock()
            s.add(row)
            s.commit()
            return True
        if not await self.db.write(work):
            raise NotFound('That token does not exist.')
        log.info('user %s revoked API token %s', user_id, token_id)

    async def lookup(self, token: str) -> tuple[User, str] | None:
        """The user a bearer token belongs to and the token's scope, or None when it is unknown, revoked or expired."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        now = self.clock()
        row = await self.db.run(lambda s: s.exec(select(ApiToken).where(col(ApiToken.token_hash) == digest)).first())
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or now - row.last_used_at >= self.last_used_every:
            def touch(s: Session, rid: int | None = row.id) -> None:
                r = s.get(ApiToken, rid)
                if r is not None:
                    r.last_used_at = now
                    s.add(r)
                    s.commit()
            await self.db.write(touch)
        user = await self.db.run(lambda s: s.get(User, row.user_id))
        return None if user is None else (user, row.scope)
