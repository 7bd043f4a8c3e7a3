"""The session cookie's options, and the wrapper that marks cookies Secure on requests that arrived over HTTPS."""

from __future__ import annotations

from typing import Any

from nanogen.config import Settings

SESSION_COOKIE = 'session'


def session_options(settings: Settings, secret_key: str) -> dict[str, Any]:
    """Starlette SessionMiddleware's options: signed, HttpOnly, SameSite=Lax (Strict would drop the cookie on the
    OIDC callback), expiring after NANOGEN_SESSION_MAX_AGE, Secure whenever the public URL is https."""
    return {'secret_key': secret_key, 'session_cookie': SESSION_COOKIE, 'max_age': settings.session_max_age_s,
            'same_site': 'lax', 'https_only': settings.https}


class SecureCookies:
    """Pure ASGI: adds `Secure` to every Set-Cookie of a request that came over HTTPS.

    Behind a TLS proxy the app itself speaks http; uvicorn sets the scheme to https from X-Forwarded-Proto only for
    the proxies in `forwarded_allow_ips`, so a client cannot switch this off (or on) with a header of its own.
    Must wrap the session middleware (added after it).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] != 'http' or scope.get('scheme') != 'https':
            await self.app(scope, receive, send)
            return

        async def secure_send(message: dict[str, Any]) -> None:
            if message['type'] == 'http.response.start':
                headers = []
                for name, value in message.get('headers', []):
                    if name.lower() == b'set-cookie' and not _has_secure(value):
                        value = value + b'; secure'
                    headers.append((name, value))
                message = {**message, 'headers': headers}
            await send(message)
        await self.app(scope, receive, secure_send)


def _has_secure(cookie: bytes) -> bool:
    return any(part.strip().lower() == b'secure' for part in cookie.split(b';')[1:])
