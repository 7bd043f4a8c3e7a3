"""HTTP routes of boards beside the API: a board's zip for those who may see it, and behind a board's public link
its image bytes (/b/<token>/files/<image id>/<variant>, image or thumb only) and its "Download all" (/b/<token>/zip).
Public routes check the link on every request: a revoked or expired one answers 404 like a forged one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from nanogen.errors import NotFound
from nanogen.generation.requests import parse_id
from nanogen.http.errors import envelope_error
from nanogen.http.identity import current_identity
from nanogen.library.downloads import parse_ids
from nanogen.models import utcnow

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


def build_boards_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    library = services.library

    @router.get('/boards/{board_id}/zip')
    async def board_zip(board_id: str, request: Request, ids: str = '') -> Response:
        identity = current_identity(request)
        board = parse_id(board_id)
        if board is None:
            raise NotFound('That board does not exist.')
        image_ids = parse_ids(ids)
        chunks = await library.build_board_zip(identity.id, board, image_ids)
        name = f'nanogen-board-{board}-{utcnow():%Y%m%d-%H%M%S}-{len(image_ids)}-images.zip'
        return StreamingResponse(chunks, media_type='application/zip',
                                 headers={'Content-Disposition': f'attachment; filename="{name}"',
                                          'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff'})

    @router.get('/b/{token}/zip')
    async def linked_zip(token: str) -> Response:
        try:
            count, chunks = await library.linked_board_zip(token)
        except NotFound as exc:
            return envelope_error(404, exc.code, exc.user_message)
        # No board id or name in the file name: the visitor learns nothing the page does not show.
        name = f'nanogen-shared-board-{utcnow():%Y%m%d-%H%M%S}-{count}-images.zip'
        return StreamingResponse(chunks, media_type='application/zip',
                                 headers={'Content-Disposition': f'attachment; filename="{name}"',
                                          'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff'})

    @router.get('/b/{token}/files/{image_id}/{variant}')
    async def linked_file(token: str, image_id: str, variant: str, request: Request) -> Response:
        image = parse_id(image_id)
        try:
            if image is None:
                raise NotFound('That image does not exist.')
            ref = await library.linked_file(token, image, variant)
        except NotFound as exc:
            return envelope_error(404, exc.code, exc.user_message)
        # Short caching only: a revoked link must stop working soon, even in a browser that saw it before.
        headers = {'Cache-Control': 'public, max-age=60', 'ETag': ref.etag, 'X-Content-Type-Options': 'nosniff'}
        if request.headers.get('if-none-match') == ref.etag:
            return Response(status_code=304, headers=headers)
        return Response(await library.read(ref), media_type=ref.content_type, headers=headers)

    return router
