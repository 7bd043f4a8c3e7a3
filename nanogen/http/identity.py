"""Who is asking, as the AuthMiddleware left it on the request (a session or a personal API token)."""

from __future__ import annotations

from fastapi import Request

from nanogen.accounts.users import Identity
from nanogen.errors import AuthError


def current_identity(request: Request) -> Identity:
    identity = getattr(request.state, 'identity', None)
    if identity is None:
        raise AuthError('Sign in or send a valid API token.')
    return identity  # type: ignore[no-any-return]
