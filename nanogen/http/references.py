"""GET /refs/{token}: a reference image behind a signed, short-lived link, for the provider to fetch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import Response

from nanogen.errors import NotFound

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


def build_references_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get('/refs/{token}')
    async def reference_image(token: str) -> Response:
        """Public on purpose: the provider fetches reference images here; the signature is the permission."""
        if services.references is None:
            raise NotFound('That reference image does not exist.')
        data = await services.references.open(token)
        return Response(data, media_type='image/png', headers={'Cache-Control': 'private, max-age=3600',
                                                               'X-Content-Type-Options': 'nosniff'})

    return router
