"""The people: user rows, who is admin, session epochs and server-side sessions, as the guard reads them."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from nanogen.accounts.tokens import hash_token
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import AuthError
from nanogen.models import User, UserSession, new_epoch, utcnow

log = logging.getLogger(__name__)
DISABLED_MESSAGE = 'Your account is disabled. Ask an admin to enable it.'


@dataclass(frozen=True)
class Identity:
    """The signed-in person, as every page and route sees them (no secrets)."""

    id: int
    email: str
    name: str
    avatar_url: str
    is_admin: bool
    via_token: bool = False
    scope: str | None = None  # a token's scope (read / generate / admin); None for a browser session


def identity_of(user: User, *, scope: str | None = None) -> Identity:
    assert user.id is not None
    # A token acts as an admin only when it was made with the admin scope (and its owner still is one).
    admin = user.is_admin and (scope is None or scope == 'admin')
    return Identity(id=user.id, email=user.email, name=user.name or user.email.split('@')[0],
                    avatar_url=user.avatar_url, is_admin=admin, via_token=scope is not None, scope=scope)


@dataclass(frozen=True)
class SessionKey:
    """What a session cookie names: the user, their session epoch, and this browser's server-side session."""

    user_id: int
    epoch: str
    sid: str

    @classmethod
    def of(cls, session: MutableMapping[str, Any] | None) -> SessionKey | None:
        if not session or not all(k in session for k in ('uid', 'ep', 'sid')):
            return None  # also every cookie from before 0003 (uid + sv): those sign in again
        try:
            return cls(int(session['uid']), str(session['ep']), str(session['sid']))
        except (TypeError, ValueError):
            return None


class UserService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        # Called with a user id whenever that user's sign-in state changes (SessionAuth drops its cache).
        self.on_change: list[Callable[[int], None]] = []
        self.on_session_end: list[Callable[[int], None]] = []  # plain sign-out: caches only, no push to open tabs

    def upsert(self, s: Session, *, subject: str, email: str, name: str = '', avatar_url: str = '') -> User:
        """Create on first sign-in (keyed by subject); keep name, email and avatar up to date after that."""
        email = email.strip().lower()
        user = s.exec(select(User).where(col(User.subject) == subject)).first()
        if user is None:
            first = s.exec(select(func.count()).select_from(User)).one() == 0
            user = User(subject=subject, email=email, name=name.strip(), avatar_url=avatar_url)
            # Without a configured admin list, the first person on a development install runs it.
            if first and not self.settings.admin_email_list and not self.settings.is_production:
                user.is_admin, user.admin_source = True, 'first'
        else:
            user.email, user.name = email, name.strip() or user.name
            user.avatar_url = avatar_url or user.avatar_url
        self.apply_admin_list(user)
        user.last_seen_at = utcnow()
        s.add(user)
        s.commit()
        s.refresh(user)
        return user

    def apply_admin_list(self, user: User) -> bool:
        """Bring `user.is_admin` in line with NANOGEN_ADMIN_EMAILS; True when it changed (the caller saves it).

        Listed: admin. Admin only because the list named them ('config'), or from before sources were recorded
        ('legacy') while a list is set: no longer admin once the list drops them. Promoted in /admin ('manual') or
        the dev install's first user ('first'): stays admin until demoted in /admin.
        """
        listed = user.email in self.settings.admin_email_list
        before = (user.is_admin, user.admin_source)
        if listed:
            user.is_admin, user.admin_source = True, 'manual' if user.admin_source == 'manual' else 'config'
        elif user.is_admin and (user.admin_source == 'config'
                                or (user.admin_source == 'legacy' and self.settings.admin_email_list)):
            user.is_admin, user.admin_source = False, ''
            log.info('user %s is no longer an admin: not in NANOGEN_ADMIN_EMAILS', user.id)
        return before != (user.is_admin, user.admin_source)

    async def sign_in(self, *, subject: str, email: str, name: str = '', avatar_url: str = '') -> User:
        user = await self.db.write(lambda s: self.upsert(s, subject=subject, email=email, name=name,
                                                       avatar_url=avatar_url))
        if user.disabled:
            raise AuthError(DISABLED_MESSAGE)
        return user

    async def get(self, user_id: int) -> User | None:
        return await self.db.run(lambda s: s.get(User, user_id))

    async def open_session(self, user_id: int) -> str:
        """A new server-side session for one browser; the returned random id goes into its cookie."""
        sid = secrets.token_urlsafe(24)
        cutoff = utcnow() - timedelta(seconds=self.settings.session_max_age_s)

        def work(s: Session) -> None:
            for old in s.exec(select(UserSession).where(col(UserSession.user_id) == user_id,
                                                        col(UserSession.created_at) < cutoff)):
                s.delete(old)  # expired with their cookie: nothing can present them any more
            s.add(UserSession(sid_hash=hash_token(sid), user_id=user_id))
            s.commit()
        await self.db.write(work)
        return sid

    async def end_session(self, key: SessionKey) -> None:
        """Plain sign-out: this browser's session stops working on every replica, even if its cookie is replayed."""
        def work(s: Session) -> None:
            row = s.exec(select(UserSession).where(col(UserSession.sid_hash) == hash_token(key.sid))).first()
            if row is not None and row.user_id == key.user_id and row.revoked_at is None:
                row.revoked_at = utcnow()
                s.add(row)
                s.commit()
        await self.db.write(work)
        # Caches forget the session, but open tabs get no push: the tab that asked is on its way to the landing page,
        # and a push would race it to /login. This browser's other tabs are refused at their next action.
        for listener in self.on_session_end:
            listener(key.user_id)

    async def session_user(self, key: SessionKey) -> User | None:
        """The user a session cookie still belongs to, or None: gone, disabled, signed out (everywhere or here).

        Also applies NANOGEN_ADMIN_EMAILS, so an admin the list dropped is demoted at their next request.
        """
        def read(s: Session) -> User | None:
            user = s.get(User, key.user_id)
            if user is None or user.disabled or not secrets.compare_digest(user.session_epoch, key.epoch):
                return None
            row = s.exec(select(UserSession).where(col(UserSession.sid_hash) == hash_token(key.sid))).first()
            if row is None or row.user_id != key.user_id or row.revoked_at is not None:
                return None
            return user
        user = await self.db.run(read)
        if user is not None and self.apply_admin_list(user):
            user = await self.save_admin_list(key.user_id) or user
        return user

    async def save_admin_list(self, user_id: int) -> User | None:
        def work(s: Session) -> User | None:
            user = s.get(User, user_id)
            if user is not None and self.apply_admin_list(user):
                s.add(user)
                s.commit()
                s.refresh(user)
            return user
        return await self.db.write(work)

    async def sign_out_everywhere(self, user_id: int) -> None:
        """A new session epoch: every cookie of this user (any browser, any replica) stops working."""
        def work(s: Session) -> None:
            user = s.get(User, user_id)
            if user:
                user.session_epoch = new_epoch()
                s.add(user)
                for row in s.exec(select(UserSession).where(col(UserSession.user_id) == user_id,
                                                            col(UserSession.revoked_at).is_(None))):
                    row.revoked_at = utcnow()
                    s.add(row)
                s.commit()
        await self.db.write(work)
        self._changed(user_id)

    async def set_disabled(self, user_id: int, disabled: bool) -> User | None:
        """Disable or enable a user; a disabled user's sessions and tokens stop working at their next request."""
        def work(s: Session) -> User | None:
            user = s.get(User, user_id)
            if user is not None:
                user.disabled = disabled
                s.add(user)
                s.commit()
                s.refresh(user)
            return user
        user = await self.db.write(work)
        self._changed(user_id)
        if user is not None:
            log.info('user %s %s', user_id, 'disabled' if disabled else 'enabled')
        return user

    def changed(self, user_id: int) -> None:
        """Tell listeners (the session cache, open tabs) that this user's sign-in state or rights changed."""
        self._changed(user_id)

    def _changed(self, user_id: int) -> None:
        for listener in self.on_change:
            listener(user_id)
