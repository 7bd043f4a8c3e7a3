"""GET /files/{image_id}/{variant}: a signed-in user's own image bytes (or a presigned redirect to the store)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from nanogen.errors import NotFound
from nanogen.generation.requests import parse_id
from nanogen.http.identity import current_identity

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


async def image_response(services: Services, request: Request, user_id: int, image_id: int, variant: str,
                         download: bool) -> Response:
    """The image's bytes (304 when the browser has them), or a short-lived redirect when the store presigns URLs;
    shared by this route and GET /api/v1/images/{id}/file."""
    ref = await services.library.file_for(user_id, image_id, variant)
    url = await services.library.url_for(ref, download=download)
    if url:
        return RedirectResponse(url, status_code=307, headers={'Cache-Control': 'private, max-age=60'})
    if request.headers.get('if-none-match') == ref.etag:
        return Response(status_code=304, headers={'ETag': ref.etag})
    data = await services.library.read(ref)
    headers = {'Cache-Control': 'private, max-age=86400, immutable', 'ETag': ref.etag,
               'X-Content-Type-Options': 'nosniff'}
    if download:
        headers['Content-Disposition'] = f'attachment; filename="{ref.filename}"'
    return Response(data, media_type=ref.content_type, headers=headers)


def build_files_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get('/files/{image_id}/{variant}')
    async def image_file(image_id: str, variant: str, request: Request, download: bool = False) -> Response:
        identity = current_identity(request)
        image = parse_id(image_id)
        if image is None:
            raise NotFound('That image does not exist.')
        return await image_response(services, request, identity.id, image, variant, download)

    return router
