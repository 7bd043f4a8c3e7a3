"""GET /api/v1/prompts (a page), GET and DELETE /api/v1/prompts/{id} (status and result; cancel)."""

# No `from __future__ import annotations`: FastAPI must see the route signatures' local aliases (Who) as objects.
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from nanogen.http.api.common import BY_ID, Cursor, DateFrom, DateTo, IdPath, Limit, Search, base, err, ok, text, utc
from nanogen.http.api.models import Envelope, ImageSize, ListOut, PromptOut, StatusLiteral, prompt_out
from nanogen.library import queries

if TYPE_CHECKING:
    from nanogen.bootstrap import Services


def build_prompts_router(services: 'Services', Who: Any) -> APIRouter:
    router = APIRouter(tags=['prompts'])
    library, generation = services.library, services.generation

    @router.get('/prompts', response_model=Envelope[ListOut[PromptOut]], summary='List your prompts')
    async def list_prompts(request: Request, who: Who, cursor: Cursor = None, limit: Limit = 50,
                           status: Annotated[StatusLiteral | None, Query()] = None,
                           size: Annotated[ImageSize | None, Query()] = None, q: Search = None,
                           date_from: DateFrom = None, date_to: DateTo = None,
                           sort: Annotated[Literal['newest', 'oldest', 'cost', 'duration'], Query()] = 'newest',
                           ) -> JSONResponse:
        """Newest first by default; pages never skip or repeat a prompt, even while new ones are created."""
        query = queries.PromptQuery(status=status, size=None if size is None else int(size), search=text(q, 'q'),
                                    sort=sort, date_from=utc(date_from, 'date_from'), date_to=utc(date_to, 'date_to'))
        page = await library.prompts(who.id, query, cursor=cursor, limit=limit)
        images = await library.images_of_prompts(who.id, [p.id for p in page.items if p.id is not None])
        items = [prompt_out(base(request), p, images.get(p.id or 0)).model_copy(update={'images': []})
                 for p in page.items]
        return ok(ListOut[PromptOut](items=items, next_cursor=page.next_cursor))

    @router.get('/prompts/{prompt_id}', response_model=Envelope[PromptOut], responses=BY_ID,
                summary='Status and result of one prompt')
    async def get_prompt(prompt_id: IdPath, request: Request, who: Who) -> JSONResponse:
        prompt = await library.get_prompt(who.id, prompt_id)
        return ok(prompt_out(base(request), prompt, await library.images_of_prompt(who.id, prompt_id)))

    @router.delete('/prompts/{prompt_id}', response_model=Envelope[PromptOut], summary='Cancel a running prompt',
                   responses={**BY_ID, 422: err('It has already ended (`error.field` is `status`), or a bad id.')})
    async def cancel_prompt(prompt_id: IdPath, request: Request, who: Who) -> JSONResponse:
        """Once submitted, the provider bills the work anyway: `cost` says so."""
        prompt = await generation.cancel(who.id, prompt_id)
        return ok(prompt_out(base(request), prompt))

    return router
