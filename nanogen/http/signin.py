"""GET /auth/local (redeem a local sign-in link, when no OIDC client is set up) and GET /auth/logout."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from nanogen.accounts.guard import safe_redirect
from nanogen.errors import AuthError

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)


def build_signin_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get('/auth/local')
    async def local_sign_in(request: Request, t: str = '', redirect_to: str = '/dashboard') -> Response:
        if services.local_sign_in is None:  # exists only when no OIDC client is configured
            return RedirectResponse('/login', status_code=303)
        try:
            name, email = await services.local_sign_in.redeem(t)
            user = await services.users.sign_in(subject=f'local:{email}', email=email, name=name)
        except AuthError as exc:
            return RedirectResponse(f'/login?error={quote(exc.user_message, safe="")}', status_code=303)
        await services.auth.log_in(request.session, user)
        log.info('user %s signed in locally', user.id)
        return RedirectResponse(safe_redirect(redirect_to), status_code=303)

    @router.get('/auth/logout')
    async def log_out(request: Request) -> Response:
        await services.auth.log_out(request.session)  # ends it server-side: a replayed cookie is refused
        return RedirectResponse('/', status_code=303)

    return router
