"""The gallery's filters beyond text, size, ratio and dates (issue 16): tags (all of them), minimum stars, model,
resolution, board and cost range: checked here; model and cost applied here to a select over (Image, Prompt), the others in
nanogen.library.member_pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import col

from nanogen.config import RESOLUTIONS
from nanogen.errors import InvalidInput
from nanogen.models import Prompt

if TYPE_CHECKING:
    from nanogen.library.queries import ImageQuery

MAX_FILTER_TAGS = 10


def check_extra(query: ImageQuery) -> None:
    if len(query.tags) > MAX_FILTER_TAGS:
        raise InvalidInput(f'Filter by at most {MAX_FILTER_TAGS} tags.', field='tags')
    if query.min_rating is not None and not 1 <= query.min_rating <= 5:
        raise InvalidInput('Filter by 1 to 5 stars.', field='min_rating')
    if query.cost_min is not None and query.cost_max is not None and query.cost_min > query.cost_max:
        raise InvalidInput('The lowest cost must not be above the highest.', field='cost_min')
    if query.model is not None and len(query.model) > 40:
        raise InvalidInput('That is not a model name.', field='model')
    if query.resolution is not None and query.resolution not in RESOLUTIONS:
        raise InvalidInput(f'Choose a resolution of {", ".join(RESOLUTIONS)}.', field='resolution')


def apply_extra(stmt: Any, query: ImageQuery) -> Any:
    # Tags, stars and the board are membership filters: nanogen.library.member_pages plans those.
    if query.model is not None:
        stmt = stmt.where(col(Prompt.model) == query.model)
    if query.cost_min is not None:
        stmt = stmt.where(col(Prompt.cost) >= query.cost_min)
    if query.cost_max is not None:
        stmt = stmt.where(col(Prompt.cost) <= query.cost_max)
    return stmt
