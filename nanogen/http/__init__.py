"""Every HTTP route of nanogen, one module per resource; `routers` lists them in the order app.py includes them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from nanogen.http.admin import build_admin_router
from nanogen.http.api import build_api
from nanogen.http.boards import build_boards_router
from nanogen.http.callbacks import build_callback_router
from nanogen.http.files import build_files_router
from nanogen.http.gallery import build_gallery_router
from nanogen.http.health import build_health_router
from nanogen.http.history import build_history_router
from nanogen.http.oidc import build_oidc_router
from nanogen.http.references import build_references_router
from nanogen.http.signin import build_signin_router

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

ROUTER_BUILDERS = (build_callback_router, build_files_router, build_signin_router, build_health_router,
                   build_admin_router, build_oidc_router, build_api, build_history_router, build_references_router,
                   build_gallery_router, build_boards_router)


def routers(services: Services) -> list[APIRouter]:
    """One router per resource; app.py includes each (and the route-walk test sees them all through app.routes)."""
    return [build(services) for build in ROUTER_BUILDERS]
