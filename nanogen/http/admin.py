"""Admin HTTP routes (usage CSV, a user's data export) and /metrics; every one checks who is asking."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from nanogen.accounts.users import Identity
from nanogen.errors import AuthError, Forbidden, NotFound
from nanogen.generation.requests import parse_id
from nanogen.http.health import dependency_checks
from nanogen.metrics import CONTENT_TYPE
from nanogen.models import utcnow

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


def require_admin(request: Request) -> Identity:
    identity: Identity | None = getattr(request.state, 'identity', None)
    if identity is None:
        raise AuthError('Sign in or send a valid API token.')
    if not identity.is_admin:
        raise Forbidden('This is for admins only.')
    return identity


def build_admin_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get('/admin/usage.csv')
    async def usage_csv(request: Request) -> Response:
        actor = require_admin(request)
        body = await services.admin.usage_csv()
        await services.admin.record(actor.id, 'usage.export')
        name = f'nanogen-usage-{utcnow():%Y-%m-%d}.csv'
        return Response(body, media_type='text/csv; charset=utf-8',
                        headers={'Content-Disposition': f'attachment; filename="{name}"', 'Cache-Control': 'no-store'})

    @router.get('/admin/users/{user_id}/export.zip')
    async def export_user(user_id: str, request: Request) -> Response:
        actor = require_admin(request)
        target = parse_id(user_id)
        if target is None:
            raise NotFound('That user does not exist.')
        name, chunks = await services.admin.export_user(actor.id, target)
        return StreamingResponse(chunks, media_type='application/zip',
                        headers={'Content-Disposition': f'attachment; filename="{name}"', 'Cache-Control': 'no-store'})

    @router.get('/admin/status')
    async def status(request: Request) -> JSONResponse:
        """Readiness plus the provider (cached 30 s, so this page cannot be used to hammer the provider's API)."""
        require_admin(request)
        checks = await dependency_checks(services)
        credits = await services.admin.credits()
        checks['provider'] = 'unreachable' if credits is None else 'ok'
        return JSONResponse({'success': True, 'data': {**checks, 'provider_credits': credits}, 'error': None},
                            headers={'Cache-Control': 'no-store'})

    @router.get('/metrics')
    async def metrics(request: Request) -> Response:
        # '/metrics' is public to the middleware so a scraper's bearer token is checked here, not as an API token.
        token = services.settings.metrics_token
        if token:
            given = request.headers.get('authorization', '')
            if not hmac.compare_digest(given.encode(), f'Bearer {token}'.encode()):
                raise AuthError('Send the metrics token as a bearer token.')
        else:
            require_admin(request)  # no token configured: signed-in admins only
        return Response(await services.metrics.render(), media_type=CONTENT_TYPE,
                        headers={'Cache-Control': 'no-store'})

    return router
