"""GET /api/v1/images (a page), GET and DELETE /api/v1/images/{id}, and GET /api/v1/images/{id}/file (the bytes)."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from nanogen.errors import NotFound
from nanogen.http.api.common import BY_ID, Cursor, DateFrom, DateTo, IdPath, Limit, Search, base, ok, text, utc
from nanogen.http.api.models import (
    DeletedOut,
    Envelope,
    ImageOut,
    ImageSize,
    ListOut,
    RatioLiteral,
    VariantLiteral,
    image_out,
)
from nanogen.http.files import image_response
from nanogen.library import queries
from nanogen.library.queries import image_row

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

FILE_TYPES: dict[str, Any] = {'image/png': {}, 'image/webp': {}, 'image/jpeg': {}}
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **BY_ID, 200: {'description': 'The bytes.', 'content': FILE_TYPES},
    307: {'description': 'A short-lived presigned URL to the object store.'}}


def build_images_router(services: 'Services', Who: Any) -> APIRouter:
    """Long because: the list's query parameters (one a line, each with its description) are its documentation."""
    router = APIRouter(tags=['images'])
    library = services.library

    @router.get('/images', response_model=Envelope[ListOut[ImageOut]], summary='List your images')
    async def list_images(request: Request, who: Who, cursor: Cursor = None, limit: Limit = 60,
                          q: Search = None, favourites: Annotated[bool, Query(description='Only favourites.')] = False,
                          size: Annotated[ImageSize | None, Query(
                              description="Nano Banana's pixel size (never matches Pro or 2).")] = None,
                          resolution: Annotated[Literal['1K', '2K', '4K'] | None, Query(
                              description='Nano Banana Pro and 2: their resolution.')] = None,
                          aspect_ratio: Annotated[RatioLiteral | None, Query()] = None,
                          date_from: DateFrom = None, date_to: DateTo = None,
                          sort: Annotated[Literal['newest', 'oldest'], Query()] = 'newest',
                          tag: Annotated[list[str] | None, Query(max_length=10, description='Every one of these.')]
                          = None, min_rating: Annotated[int | None, Query(ge=1, le=5)] = None,
                          model: Annotated[str | None, Query(max_length=40)] = None,
                          board_id: Annotated[int | None, Query(ge=1, description='Only those on this board.')] = None,
                          cost_min: Annotated[Decimal | None, Query(ge=0)] = None,
                          cost_max: Annotated[Decimal | None, Query(ge=0)] = None,
                          group_versions: Annotated[bool, Query(
                              description='One item per version tree (its root).')] = False) -> JSONResponse:
        query = queries.ImageQuery(search=text(q, 'q'), favourites_only=favourites,
                                   size=None if size is None else int(size),
                                   aspect_ratio=aspect_ratio, sort=sort, date_from=utc(date_from, 'date_from'),
                                   date_to=utc(date_to, 'date_to'), tags=tuple(t.lower() for t in tag or ()),
                                   min_rating=min_rating, model=model, board_id=board_id, cost_min=cost_min,
                                   cost_max=cost_max, group_versions=group_versions, resolution=resolution)
        page = await library.images(who.id, query, cursor=cursor, limit=limit)
        labels = await library.tagging.labels_of(who.id, [r.id for r in page.items])
        return ok(ListOut[ImageOut](items=[image_out(base(request), r, labels.get(r.id)) for r in page.items],
                                    next_cursor=page.next_cursor))

    @router.get('/images/{image_id}', response_model=Envelope[ImageOut], responses=BY_ID, summary='One image')
    async def get_image(image_id: IdPath, request: Request, who: Who) -> JSONResponse:
        image = await library.get_image(who.id, image_id)
        prompt = await library.get_prompt(who.id, image.prompt_id)
        labels = await library.tagging.labels_of(who.id, [image_id])
        return ok(image_out(base(request), image_row(image, prompt), labels.get(image_id)))

    @router.get('/images/{image_id}/file', summary="An image's bytes", response_class=Response,
                responses=FILE_RESPONSES)
    async def image_file(image_id: IdPath, request: Request, who: Who,
                         variant: Annotated[VariantLiteral, Query()] = 'image',
                         download: Annotated[bool, Query(description='Ask the browser to save it.')] = False,
                         ) -> Response:
        return await image_response(services, request, who.id, image_id, variant, download)

    @router.delete('/images/{image_id}', response_model=Envelope[DeletedOut], responses=BY_ID,
                   summary='Delete an image (undo until undo_until)')
    async def delete_image(image_id: IdPath, who: Who) -> JSONResponse:
        # The gallery's semantics: hidden at once, files purged after the undo window (nanogen/library/deletes.py).
        deleted = await library.delete_images(who.id, [image_id])
        return ok(DeletedOut(id=image_id, undo_until=deleted.undo_until))

    @router.post('/images/{image_id}/restore', response_model=Envelope[ImageOut], responses=BY_ID,
                 summary='Undo a delete within its window')
    async def restore_image(image_id: IdPath, request: Request, who: Who) -> JSONResponse:
        if not await library.restore_images(who.id, [image_id]):
            raise NotFound('That image does not exist or can no longer be restored.')
        image = await library.get_image(who.id, image_id)
        prompt = await library.get_prompt(who.id, image.prompt_id)
        return ok(image_out(base(request), image_row(image, prompt)))

    return router
