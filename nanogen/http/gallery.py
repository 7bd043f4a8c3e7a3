"""HTTP routes of the gallery: the signed-in viewer's zip download and the public bytes behind share links."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from nanogen.errors import NotFound
from nanogen.http.errors import envelope_error
from nanogen.http.identity import current_identity
from nanogen.library.downloads import parse_ids
from nanogen.models import utcnow

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)


def build_gallery_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    library = services.library

    # '/files/zip' has one segment after /files/, the image route two: they never collide.
    @router.get('/files/zip')
    async def zip_download(request: Request, ids: str = '') -> Response:
        identity = current_identity(request)
        image_ids = parse_ids(ids)  # InvalidInput -> 422 envelope through the app's error handlers
        chunks = await library.build_zip(identity.id, image_ids)
        name = f'nanogen-{utcnow():%Y%m%d-%H%M%S}-{len(image_ids)}-images.zip'
        return StreamingResponse(chunks, media_type='application/zip',
                                 headers={'Content-Disposition': f'attachment; filename="{name}"',
                                          'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff'})

    @router.get('/s/{token}/image')
    async def shared_image(token: str, request: Request, download: bool = False) -> Response:
        try:
            shared = await library.resolve_share(token)
        except NotFound as exc:
            return envelope_error(404, exc.code, exc.user_message)
        public = library.public_url(shared)
        if public and not download:
            return RedirectResponse(public, status_code=307, headers={'Cache-Control': 'no-store'})
        ref = shared.file
        # Short caching only: a revoked link must stop working soon, even in a browser that saw it before.
        headers = {'Cache-Control': 'public, max-age=60', 'ETag': ref.etag, 'X-Content-Type-Options': 'nosniff'}
        if request.headers.get('if-none-match') == ref.etag:
            return Response(status_code=304, headers=headers)
        data = await library.read(ref)
        if download:
            headers['Content-Disposition'] = f'attachment; filename="{ref.filename}"'
        return Response(data, media_type=ref.content_type, headers=headers)

    return router
