"""POST /api/provider/callback/{token}: the provider reports a finished task; the signed token is the permission."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from nanogen.accounts.ratelimit import MAX_JSON_DEPTH, JsonTooDeep, parse_json
from nanogen.errors import AuthError, NotFound, ProviderBadResponse
from nanogen.http.errors import envelope_error

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


def build_callback_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post('/api/provider/callback/{token}')
    async def provider_callback(token: str, request: Request) -> JSONResponse:
        # The token first: a stranger's request is refused before its body is read. BodyLimitMiddleware has
        # already refused anything over MAX_CALLBACK_BYTES, so the read below is bounded.
        try:
            services.generation.callback_prompt_id(token)
        except AuthError as exc:
            return envelope_error(403, exc.code, exc.user_message)
        try:
            body = parse_json(await request.body())
        except JsonTooDeep:
            return envelope_error(400, 'bad_callback', f'The callback body is nested too deeply (over '
                                  f'{MAX_JSON_DEPTH} levels).')
        except ValueError:
            return envelope_error(400, 'bad_callback', 'The callback body is not JSON.')
        try:
            await services.generation.handle_callback(token, body)
        except (AuthError, NotFound, ProviderBadResponse) as exc:
            status = 404 if isinstance(exc, NotFound) else 400 if isinstance(exc, ProviderBadResponse) else 403
            return envelope_error(status, exc.code, exc.user_message)
        return JSONResponse({'code': 200, 'msg': 'ok'})

    return router
