"""Who is asking: users, sessions, the guard every route passes through, and local sign-in for the embedded default."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session, func, select

from .config import Settings
from .csrf import is_cross_site
from .db import Database
from .errors import AuthError, InvalidInput
from .models import User, utcnow

log = logging.getLogger(__name__)
DISABLED_MESSAGE = 'Your account is disabled. Ask an admin to enable it.'
EXPIRED_LINK_MESSAGE = 'That sign-in link has expired. Sign in again.'
INVALID_LINK_MESSAGE = 'That sign-in link is not valid. Sign in again.'
LOCAL_SIGN_IN_MESSAGES = (DISABLED_MESSAGE, EXPIRED_LINK_MESSAGE, INVALID_LINK_MESSAGE)
EMAIL_RE = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s]+$')

# Paths anyone may reach. Everything else needs a session (pages) or a session/token (API).
PUBLIC_EXACT = {'/', '/login', '/healthz', '/readyz', '/favicon.ico', '/auth/logout',
                '/metrics'}  # /metrics checks its own token (or an admin session) in admin_routes
PUBLIC_PREFIXES = ('/_nicegui/', '/_nicegui_ws/', '/auth/', '/s/', '/api/provider/callback/', '/refs/')


# Under the public '/_nicegui/' prefix but tied to a signed-in page: NiceGUI's upload routes.
PRIVATE_PREFIXES = ('/_nicegui/client/',)


def is_public(path: str) -> bool:
    if path.startswith(PRIVATE_PREFIXES):
        return False
    return path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES)


def safe_redirect(target: str | None, default: str = '/dashboard') -> str:
    """Only a local path: never an open redirect (no scheme, no host, no '//' or backslash tricks)."""
    if not target or not isinstance(target, str):
        return default
    if '\\' in target or any(ord(c) < 32 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith('/') or target.startswith('//'):
        return default
    return target


@dataclass(frozen=True)
class Identity:
    """The signed-in person, as every page and route sees them (no secrets)."""

    id: int
    email: str
    name: str
    avatar_url: str
    is_admin: bool
    via_token: bool = False


def _identity(user: User, *, via_token: bool = False) -> Identity:
    assert user.id is not None
    return Identity(id=user.id, email=user.email, name=user.name or user.email.split('@')[0],
                    avatar_url=user.avatar_url, is_admin=user.is_admin, via_token=via_token)


class UserService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        # Called with a user id whenever that user's sign-in state changes (SessionAuth drops its cache).
        self.on_change: list[Callable[[int], None]] = []

    def upsert(self, s: Session, *, subject: str, email: str, name: str = '', avatar_url: str = '') -> User:
        """Create on first sign-in (keyed by subject); keep name, email and avatar up to date after that."""
        email = email.strip().lower()
        user = s.exec(select(User).where(User.subject == subject)).first()
        admin = email in self.settings.admin_email_list
        if user is None:
            first = s.exec(select(func.count()).select_from(User)).one() == 0
            # Without a configured admin list, the first person on a development install runs it.
            admin = admin or (first and not self.settings.admin_email_list and not self.settings.is_production)
            user = User(subject=subject, email=email, name=name.strip(), avatar_url=avatar_url, is_admin=admin)
        else:
            user.email, user.name = email, name.strip() or user.name
            user.avatar_url = avatar_url or user.avatar_url
            user.is_admin = user.is_admin or admin
        user.last_seen_at = utcnow()
        s.add(user)
        s.commit()
        s.refresh(user)
        return user

    async def sign_in(self, *, subject: str, email: str, name: str = '', avatar_url: str = '') -> User:
        user = await self.db.write(lambda s: self.upsert(s, subject=subject, email=email, name=name,
                                                       avatar_url=avatar_url))
        if user.disabled:
            raise AuthError(DISABLED_MESSAGE)
        return user

    async def get(self, user_id: int) -> User | None:
        return await self.db.run(lambda s: s.get(User, user_id))

    async def sign_out_everywhere(self, user_id: int) -> None:
        def work(s: Session) -> None:
            user = s.get(User, user_id)
            if user:
                user.session_version += 1
                s.add(user)
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

    def _changed(self, user_id: int) -> None:
        for listener in self.on_change:
            listener(user_id)


class LocalSignIn:
    """The development sign-in: a name and an email, no password. Exists only without an OIDC client."""

    def __init__(self, secret_key: str) -> None:
        self._signer = URLSafeTimedSerializer(secret_key, salt='nanogen.local-login')

    @staticmethod
    def validate(name: str, email: str) -> tuple[str, str]:
        email = (email or '').strip().lower()
        name = (name or '').strip()
        if not EMAIL_RE.match(email) or len(email) > 320:
            raise InvalidInput('Enter a valid email address, like ada@example.com.', field='email')
        if len(name) > 100:
            raise InvalidInput('The name is too long: use at most 100 characters.', field='name')
        return name or email.split('@')[0], email

    def ticket(self, name: str, email: str) -> str:
        name, email = self.validate(name, email)
        return self._signer.dumps({'n': name, 'e': email})

    def redeem(self, ticket: str) -> tuple[str, str]:
        try:
            data = self._signer.loads(ticket, max_age=120)
            return str(data['n']), str(data['e'])
        except SignatureExpired:
            raise AuthError(EXPIRED_LINK_MESSAGE) from None
        except (BadSignature, KeyError, TypeError):
            raise AuthError(INVALID_LINK_MESSAGE) from None


class SessionAuth:
    """Reads and writes the signed session cookie; resolves it (or a bearer token) to an Identity."""

    def __init__(self, users: UserService, *, token_lookup: Callable[[str], Awaitable[User | None]] | None = None,
                 cache_seconds: float = 2.0) -> None:
        self.users = users
        self.token_lookup = token_lookup
        users.on_change.append(self.forget)
        self._cache: dict[tuple[int, int], tuple[float, User | None]] = {}
        self.cache_seconds = cache_seconds

    @staticmethod
    def log_in(session: MutableMapping[str, Any], user: User) -> None:
        session['uid'] = user.id
        session['sv'] = user.session_version
        session['at'] = int(time.time())

    @staticmethod
    def log_out(session: MutableMapping[str, Any]) -> None:
        for key in ('uid', 'sv', 'at'):
            session.pop(key, None)

    async def identify(self, session: MutableMapping[str, Any] | None, authorization: str | None) -> Identity | None:
        if authorization and authorization.lower().startswith('bearer ') and self.token_lookup:
            user = await self.token_lookup(authorization[7:].strip())
            return _identity(user, via_token=True) if user and not user.disabled else None
        if not session or 'uid' not in session:
            return None
        max_age = self.users.settings.session_max_age_s
        if int(time.time()) - int(session.get('at', 0)) > max_age:
            return None
        key = (int(session['uid']), int(session.get('sv', 0)))
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached and now - cached[0] < self.cache_seconds:
            user = cached[1]
        else:
            user = await self.users.get(key[0])
            self._cache[key] = (now, user)
            if len(self._cache) > 10_000:
                self._cache.clear()
        # A disabled user, or one who signed out everywhere, loses this session at the next request.
        if user is None or user.disabled or user.session_version != key[1]:
            return None
        return _identity(user)

    def forget(self, user_id: int) -> None:
        for key in [k for k in self._cache if k[0] == user_id]:
            self._cache.pop(key, None)


class AuthMiddleware:
    """Pure ASGI guard: no page or route can forget the check, because every request passes here first."""

    def __init__(self, app: Any, auth: SessionAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        path: str = scope.get('path', '')
        headers = {k.decode('latin-1').lower(): v.decode('latin-1') for k, v in scope.get('headers', [])}
        identity = await self.auth.identify(scope.get('session'), headers.get('authorization'))
        scope.setdefault('state', {})['identity'] = identity
        # CSRF, for every route in one place: the cookie rides along on a forged cross-site form or fetch; a bearer
        # token does not, and the provider callback carries its permission in the URL.
        if (identity is not None and not identity.via_token and not path.startswith('/api/provider/callback/')
                and is_cross_site(scope, headers, self.auth.users.settings.public_url)):
            log.warning('refused a cross-site %s to %s', scope.get('method'), path)
            body = json.dumps({'success': False, 'data': None, 'error': {
                'code': 'cross_site', 'message': 'This request did not come from a nanogen page: refused.'}})
            await _respond(send, 403, body.encode(), [(b'content-type', b'application/json')])
            return
        if identity is not None or is_public(path):
            await self.app(scope, receive, send)
            return
        # A script (it sent a token) or an API call gets JSON it can act on, not a sign-in page.
        if (path.startswith('/api/') or 'application/json' in headers.get('accept', '') or 'authorization' in headers
                or scope.get('method', 'GET') not in ('GET', 'HEAD')):  # a POST cannot follow a sign-in page
            body = json.dumps({'success': False, 'data': None,
                               'error': {'code': 'unauthorized', 'message': 'Sign in or send a valid API token.'}})
            await _respond(send, 401, body.encode(), [(b'content-type', b'application/json'),
                                                       (b'www-authenticate', b'Bearer')])
            return
        query = scope.get('query_string', b'').decode('latin-1')
        target = path + (f'?{query}' if query else '')
        await _respond(send, 303, b'', [(b'location', f'/login?redirect_to={quote(target, safe="")}'.encode())])


async def _respond(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({'type': 'http.response.start', 'status': status,
                'headers': headers + [(b'content-length', str(len(body)).encode()), (b'cache-control', b'no-store')]})
    await send({'type': 'http.response.body', 'body': body})
