"""REST API v1 (/api/v1) for scripts and notebooks: generate, follow, list, fetch and delete; docs at /api/docs.

Every JSON answer is the envelope `{"success", "data", "error"}`. Who is asking comes from the AuthMiddleware
(session cookie or `Authorization: Bearer <personal API token>`); another user's ids answer 404, like missing ones.
One module per resource (generate, prompts, images, me); this one assembles them and serves the schema and docs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPBearer

from nanogen.accounts.ratelimit import RateLimiter
from nanogen.http.api.batches import build_batches_router
from nanogen.http.api.boards import build_boards_router, build_tags_router
from nanogen.http.api.catalogue import build_catalogue_router
from nanogen.http.api.common import COMMON, PREFIX, who_dependency
from nanogen.http.api.docs import add_asset_route, swagger_ui_page
from nanogen.http.api.edits import build_edits_router
from nanogen.http.api.generate import build_generate_router
from nanogen.http.api.groups import build_groups_router
from nanogen.http.api.images import build_images_router
from nanogen.http.api.me import build_me_router
from nanogen.http.api.prompts import build_prompts_router
from nanogen.http.api.webhooks import build_webhooks_router

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

DESCRIPTION = ('Generate images and read your library from scripts. Authenticate with `Authorization: Bearer <token>` '
               '(create a token on your profile page) or a signed-in session. Every JSON answer is '
               '`{"success", "data", "error"}`; errors carry `error.code`, a readable `error.message` and, for '
               'invalid input, `error.field`.')


def build_api(services: Services) -> APIRouter:
    """The /api/v1 routes plus /api/openapi.json and /api/docs; the composition root includes the result."""
    limiter = services.rate_limiter or RateLimiter(services.settings.api_rate_per_minute)
    who = who_dependency(limiter)  # one limiter for every resource (and every replica, when shared)
    bearer = HTTPBearer(auto_error=False, description='A personal API token from your profile page.')
    v1 = APIRouter(prefix=PREFIX, dependencies=[Security(bearer)], responses=COMMON)
    for build in (build_generate_router, build_prompts_router, build_images_router, build_me_router,
                  build_catalogue_router, build_edits_router, build_boards_router, build_tags_router,
                  build_webhooks_router,
                  build_batches_router,
                  build_groups_router):
        v1.include_router(build(services, who))
    root = APIRouter(include_in_schema=False)
    root.include_router(v1)
    _add_docs(root, v1)
    return root


def _add_docs(root: APIRouter, v1: APIRouter) -> None:
    schema: dict[str, Any] = {}

    @root.get('/api/openapi.json')
    async def openapi() -> JSONResponse:
        if not schema:
            schema.update(get_openapi(title='nanogen API', version='1.0.0', routes=v1.routes,
                                      description=DESCRIPTION))
        return JSONResponse(schema)

    @root.get('/api/docs')
    async def docs() -> HTMLResponse:
        return swagger_ui_page('/api/openapi.json', 'nanogen API')

    add_asset_route(root)
