"""/api/v1/boards: boards (CRUD), their images (list, add, remove), sharing with a group, public links (issue 16);
/api/v1/tags and /api/v1/images/{id}/tags|rating: tags and stars.

A board another user may not see answers 404, like a missing one; one they may see but not change answers 403.
"""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from nanogen.http.api.common import BY_ID, Cursor, IdPath, Limit, Search, base, ok, text
from nanogen.http.api.models import Envelope, ImageOut, ListOut, image_out
from nanogen.library.boards import BoardInfo
from nanogen.library.queries import ImageQuery

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


class BoardOut(BaseModel):
    id: int
    name: str
    description: str
    owner_id: int
    cover_image_id: int | None = Field(description='The image shown as the cover: the one the owner chose while it is '
                                                'on the board, else the newest image on it; null: no images.')
    cover_chosen: bool = Field(description='True: cover_image_id is the owner\'s choice; false: the newest image.')
    group_id: int | None = Field(description='The group it is shared with; null: private (or by link only).')
    group_name: str | None
    image_count: int
    created_at: datetime
    role: str = Field(description='Yours: owner, admin, editor or member.')
    can_edit: bool


class BoardIn(BaseModel):
    name: str = Field(max_length=200)
    description: str = Field(default='', max_length=2000)


class BoardPatch(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    cover_image_id: int | None = Field(default=None, ge=1, description='An image on the board; null: back to the '
                                       'newest image; left out: unchanged.')


class ImageIdsIn(BaseModel):
    image_ids: list[int] = Field(min_length=1, max_length=500)


class AddedOut(BaseModel):
    added: list[int] = Field(description='The ids newly put on the board (those already there are left out).')


class RemovedOut(BaseModel):
    removed: int


class ShareIn(BaseModel):
    group_id: int | None = Field(description='One of your groups; null makes the board private again.')


class LinkIn(BaseModel):
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description='Null: never expires.')


class LinkStateOut(BaseModel):
    id: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: str = Field(description='live, expired or revoked.')


class LinkOut(BaseModel):
    id: int
    url: str = Field(description='The public link; shown only now.')
    expires_at: datetime | None


def board_out(board: BoardInfo) -> BoardOut:
    return BoardOut(id=board.id, name=board.name, description=board.description, owner_id=board.owner_id,
                    cover_image_id=board.cover_image_id, cover_chosen=board.cover_chosen, group_id=board.group_id,
                    group_name=board.group_name, image_count=board.image_count, created_at=board.created_at,
                    role=board.role, can_edit=board.can_edit)


def build_boards_router(services: 'Services', Who: Any) -> APIRouter:
    """Long because: one short route per operation on boards, each a few lines; splitting them would only scatter."""
    router = APIRouter(tags=['boards'])
    library = services.library
    boards = library.boards

    @router.get('/boards', response_model=Envelope[list[BoardOut]], summary='Your boards and those shared with you')
    async def list_boards(who: Who) -> JSONResponse:
        return ok([board_out(b) for b in await boards.visible_to(who.id)])

    @router.post('/boards', response_model=Envelope[BoardOut], status_code=201, summary='Make a board')
    async def create_board(who: Who, body: BoardIn) -> JSONResponse:
        return ok(board_out(await boards.create(who.id, body.name, body.description)), status=201)

    @router.get('/boards/{board_id}', response_model=Envelope[BoardOut], responses=BY_ID, summary='One board')
    async def get_board(board_id: IdPath, who: Who) -> JSONResponse:
        return ok(board_out(await boards.get(who.id, board_id)))

    @router.patch('/boards/{board_id}', response_model=Envelope[BoardOut], responses=BY_ID,
                  summary='Rename, describe or set the cover (owner)')
    async def update_board(board_id: IdPath, who: Who, body: BoardPatch) -> JSONResponse:
        clear_cover = 'cover_image_id' in body.model_fields_set and body.cover_image_id is None
        return ok(board_out(await boards.update(who.id, board_id, name=body.name, description=body.description,
                                                cover_image_id=body.cover_image_id, clear_cover=clear_cover)))

    @router.delete('/boards/{board_id}', response_model=Envelope[None], responses=BY_ID,
                   summary='Delete a board (its images stay)')
    async def delete_board(board_id: IdPath, who: Who) -> JSONResponse:
        await boards.delete(who.id, board_id)
        return ok(None)

    @router.get('/boards/{board_id}/images', response_model=Envelope[ListOut[ImageOut]], responses=BY_ID,
                summary="A board's images")
    async def board_images(board_id: IdPath, request: Request, who: Who, cursor: Cursor = None, limit: Limit = 60,
                           q: Search = None) -> JSONResponse:
        page = await library.board_images(who.id, board_id, ImageQuery(search=text(q, 'q')), cursor=cursor,
                                          limit=limit)
        return ok(ListOut[ImageOut](items=[image_out(base(request), r) for r in page.items],
                                    next_cursor=page.next_cursor))

    @router.post('/boards/{board_id}/images', response_model=Envelope[AddedOut], responses=BY_ID,
                 summary='Put your images on a board (owner, editor)')
    async def add_images(board_id: IdPath, who: Who, body: ImageIdsIn) -> JSONResponse:
        return ok(AddedOut(added=await boards.add_images(who.id, board_id, body.image_ids)))

    @router.delete('/boards/{board_id}/images/{image_id}', response_model=Envelope[RemovedOut], responses=BY_ID,
                   summary='Take an image off a board (owner, editor)')
    async def remove_image(board_id: IdPath, image_id: IdPath, who: Who) -> JSONResponse:
        return ok(RemovedOut(removed=await boards.remove_images(who.id, board_id, [image_id])))

    @router.put('/boards/{board_id}/share', response_model=Envelope[BoardOut], responses=BY_ID,
                summary='Share with one of your groups, or make private (owner)')
    async def share_board(board_id: IdPath, who: Who, body: Annotated[ShareIn, Body()]) -> JSONResponse:
        return ok(board_out(await boards.share_with_group(who.id, board_id, body.group_id)))

    @router.post('/boards/{board_id}/links', response_model=Envelope[LinkOut], status_code=201, responses=BY_ID,
                 summary='Make a public link (owner)')
    async def create_link(board_id: IdPath, request: Request, who: Who, body: LinkIn) -> JSONResponse:
        expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
        link = await boards.create_link(who.id, board_id, expires_in=expires)
        return ok(LinkOut(id=link.id, url=base(request) + link.path, expires_at=link.expires_at), status=201)

    @router.get('/boards/{board_id}/links', response_model=Envelope[list[LinkStateOut]], responses=BY_ID,
                summary="A board's public links, newest first, with their state (owner)")
    async def list_links(board_id: IdPath, who: Who) -> JSONResponse:
        now = boards.clock()
        return ok([LinkStateOut(id=link.id, created_at=link.created_at, expires_at=link.expires_at,
                                revoked_at=link.revoked_at, state=link.state(now))
                   for link in await boards.links_of(who.id, board_id)])

    @router.delete('/boards/{board_id}/links/{link_id}', response_model=Envelope[None], responses=BY_ID,
                   summary='Revoke a public link (owner)')
    async def revoke_link(board_id: IdPath, link_id: IdPath, who: Who) -> JSONResponse:
        await boards.revoke_link(who.id, board_id, link_id)
        return ok(None)

    return router


class TagsIn(BaseModel):
    tags: list[str] = Field(max_length=20, description='The full set: replaces the image\'s tags.')


class TagsOut(BaseModel):
    tags: list[str]


class RatingIn(BaseModel):
    stars: int | None = Field(ge=1, le=5, description='1 to 5; null clears the rating.')


class RatingOut(BaseModel):
    stars: int | None


def build_tags_router(services: 'Services', Who: Any) -> APIRouter:
    """Tags and ratings of your images, and tag suggestions (yours and your groups')."""
    router = APIRouter(tags=['tags'])
    tagging = services.library.tagging

    @router.get('/tags', response_model=Envelope[list[str]], summary='Tag suggestions (yours and your groups\')')
    async def suggest(who: Who, prefix: Annotated[str, Query(max_length=40)] = '') -> JSONResponse:
        return ok(await tagging.suggest(who.id, prefix))

    @router.get('/images/{image_id}/tags', response_model=Envelope[TagsOut], responses=BY_ID, summary="An image's tags")
    async def get_tags(image_id: IdPath, who: Who) -> JSONResponse:
        return ok(TagsOut(tags=await tagging.tags_of(who.id, image_id)))

    @router.put('/images/{image_id}/tags', response_model=Envelope[TagsOut], responses=BY_ID,
                summary="Set an image's tags")
    async def set_tags(image_id: IdPath, who: Who, body: TagsIn) -> JSONResponse:
        return ok(TagsOut(tags=await tagging.set_tags(who.id, image_id, body.tags)))

    @router.get('/images/{image_id}/rating', response_model=Envelope[RatingOut], responses=BY_ID,
                summary="An image's rating")
    async def get_rating(image_id: IdPath, who: Who) -> JSONResponse:
        return ok(RatingOut(stars=await tagging.rating_of(who.id, image_id)))

    @router.put('/images/{image_id}/rating', response_model=Envelope[RatingOut], responses=BY_ID,
                summary='Rate an image (1-5 stars)')
    async def set_rating(image_id: IdPath, who: Who, body: RatingIn) -> JSONResponse:
        return ok(RatingOut(stars=await tagging.set_rating(who.id, image_id, body.stars)))

    return router
