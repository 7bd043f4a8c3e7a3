"""Who is asking: the guard every route passes through, session sign-in/out, and local sign-in for the embedded default.

The user rows and server-side sessions it checks live in `nanogen.accounts.users`.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from nanogen.accounts.csrf import is_cross_site
from nanogen.accounts.users import DISABLED_MESSAGE, Identity, SessionKey, UserService, identity_of
from nanogen.coalesce import Shared
from nanogen.db import Database
from nanogen.errors import AuthError, InvalidInput
from nanogen.models import UsedTicket, User, utcnow

log = logging.getLogger(__name__)
EXPIRED_LINK_MESSAGE = 'That sign-in link has expired. Sign in again.'
INVALID_LINK_MESSAGE = 'That sign-in link is not valid. Sign in again.'
USED_LINK_MESSAGE = 'That sign-in link was already used. Sign in again.'
SIGNED_OUT_MESSAGE = 'You were signed out. Sign in again to continue.'
TICKET_MAX_AGE_S = 120
SAFE_METHODS = ('GET', 'HEAD', 'OPTIONS')
TOKEN_EXTRA_PATHS = frozenset({'/api/openapi.json', '/api/docs'})  # beside /api/v1: the API's schema and its docs
# Messages /login?error= may show (accounts.signin_messages.login_error_text); SIGNED_OUT_MESSAGE: stale tabs.
LOCAL_SIGN_IN_MESSAGES = (DISABLED_MESSAGE, EXPIRED_LINK_MESSAGE, INVALID_LINK_MESSAGE, USED_LINK_MESSAGE,
                          SIGNED_OUT_MESSAGE)
EMAIL_RE = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s]+$')

# Paths anyone may reach. Everything else needs a session (pages) or a session/token (API).
PUBLIC_EXACT = {'/', '/login', '/healthz', '/readyz', '/favicon.ico', '/auth/logout',
                '/metrics'}  # /metrics checks its own token (or an admin session) in admin_routes
PUBLIC_PREFIXES = ('/_nicegui/', '/_nicegui_ws/', '/auth/', '/s/', '/b/', '/api/provider/callback/', '/refs/')


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


class LocalSignIn:
    """The development sign-in: a name and an email, no password. Exists only without an OIDC client."""

    def __init__(self, secret_key: str, db: Database) -> None:
        self._signer = URLSafeTimedSerializer(secret_key, salt='nanogen.local-login')
        self.db = db

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
        return self._signer.dumps({'n': name, 'e': email, 'j': secrets.token_urlsafe(16)})

    async def redeem(self, ticket: str) -> tuple[str, str]:
        """The name and email of a valid ticket, once: a second redeem (a replayed link) is refused."""
        try:
            data = self._signer.loads(ticket, max_age=TICKET_MAX_AGE_S)
            name, email, ticket_id = str(data['n']), str(data['e']), str(data['j'])[:64]
        except SignatureExpired:
            raise AuthError(EXPIRED_LINK_MESSAGE) from None
        except (BadSignature, KeyError, TypeError):
            raise AuthError(INVALID_LINK_MESSAGE) from None
        now = utcnow()

        def work(s: Session) -> bool:
            # Used ids are kept in the database (not in memory) so a replay on another replica is refused too.
            for old in s.exec(select(UsedTicket).where(col(UsedTicket.expires_at) < now)):
                s.delete(old)
            s.add(UsedTicket(ticket_id=ticket_id, expires_at=now + timedelta(seconds=TICKET_MAX_AGE_S + 5)))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                return False
            return True
        if not await self.db.write(work):
            raise AuthError(USED_LINK_MESSAGE)
        return name, email


class SessionAuth:
    """Reads and writes the signed session cookie; resolves it (or a bearer token) to an Identity."""

    def __init__(self, users: UserService, *,
                 token_lookup: Callable[[str], Awaitable[tuple[User, str] | None]] | None = None,
                 cache_seconds: float = 2.0) -> None:
        self.users = users
        self.token_lookup = token_lookup
        users.on_change.append(self.forget)
        users.on_session_end.append(self.forget)
        # A moment per process, and one read for every tab of a session that asks at once (issue 18).
        self._sessions: Shared[User | None] = Shared(cache_seconds)
        self.cache_seconds = cache_seconds

    async def log_in(self, session: MutableMapping[str, Any], user: User) -> None:
        assert user.id is not None
        sid = await self.users.open_session(user.id)
        session.pop('sv', None)  # a cookie from before 0003
        session['uid'] = user.id
        session['ep'] = user.session_epoch
        session['sid'] = sid
        session['at'] = int(time.time())

    async def log_out(self, session: MutableMapping[str, Any]) -> None:
        key = SessionKey.of(session)
        if key is not None:
            await self.users.end_session(key)
        for name in ('uid', 'sv', 'ep', 'sid', 'at'):
            session.pop(name, None)

    async def identify(self, session: MutableMapping[str, Any] | None, authorization: str | None,
                       path: str = '/api/v1/') -> Identity | None:
        if authorization and authorization.lower().startswith('bearer ') and self.token_lookup:
            # Personal tokens are for the API only (its routes, its schema and docs, which scripts and client generators
            # read): never pages, /admin/* or /metrics (which has its own token).
            if not (path == '/api/v1' or path.startswith('/api/v1/') or path in TOKEN_EXTRA_PATHS):
                return None
            found = await self.token_lookup(authorization[7:].strip())
            if found is None or found[0].disabled:
                return None
            return identity_of(found[0], scope=found[1])
        if not session or 'uid' not in session:
            return None
        max_age = self.users.settings.session_max_age_s
        try:
            if int(time.time()) - int(session.get('at', 0)) > max_age:
                return None
        except (TypeError, ValueError):
            return None
        return await self.current(SessionKey.of(session))

    async def current(self, key: SessionKey | None) -> Identity | None:
        """Who a session still is, or None: every request (the guard) and every UI action (pages/frame) asks here.

        A user who was deleted, disabled, signed out everywhere (new epoch) or signed out of this browser (revoked
        session) is None. Cached a moment per process; changes made here drop the cache at once.
        """
        if key is None:
            return None
        user = await self._sessions.get(key, lambda: self.users.session_user(key))
        return None if user is None else identity_of(user)

    def forget(self, user_id: int) -> None:
        self._sessions.forget(lambda k: isinstance(k, SessionKey) and k.user_id == user_id)


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
        identity = await self.auth.identify(scope.get('session'), headers.get('authorization'), path)
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
        if identity is not None and identity.scope == 'read' and scope.get('method', 'GET') not in SAFE_METHODS:
            body = json.dumps({'success': False, 'data': None, 'error': {
                'code': 'forbidden', 'message': 'This token may only read: create one with the generate scope.'}})
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
                'headers': [*headers, (b'content-length', str(len(body)).encode()), (b'cache-control', b'no-store')]})
    await send({'type': 'http.response.body', 'body': body})
