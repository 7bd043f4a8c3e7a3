"""Gallery pages narrowed by membership filters (tags, stars, a board; a board's or the team's images): a plan that
stays fast whether the filter matches most of a library or almost none of it (issue 16, `python -m bench.team_search`).

Written as plain `id IN (subquery)` filters, SQLite drives such a query from the filter's rows and sorts every match,
with all of its image and prompt columns, before the LIMIT: 150-300 ms for a tag on 5% of 100,000 images. Instead:
1. walk: when the filters narrow a user's own images, the next window of rows along the (user_id, created_at) index
   is tested in page order, each filter an EXISTS on its table's primary key; a common filter fills the page within
   a few hundred rows, and then that is the page.
2. driven: otherwise (a rare filter, or a board's images, which no user index orders) the filters' rows drive, but
   only (created_at, id) is sorted; the page's rows are then read by primary key.
Both give exactly the rows and order the plain query would. SQLite only: PostgreSQL's planner serves the plain
IN-subqueries well, and these plans were slower there (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.library.search import WINDOW_PAGES, WINDOW_ROWS, contains, indexed_match
from nanogen.models import BoardImage, Image, ImageRating, ImageTag, Prompt

if TYPE_CHECKING:
    from nanogen.library.queries import ImageQuery


@dataclass(frozen=True)
class Member:
    """Images whose id the subquery `ids` gives; `id_col` is its image-id column (for the EXISTS form)."""

    ids: Any
    id_col: Any

    def inside(self) -> Any:
        return col(Image.id).in_(self.ids)

    def exists(self) -> Any:
        return self.ids.where(self.id_col == col(Image.id)).exists()


def members(query: ImageQuery) -> list[Member]:
    """The query's membership filters: every tag, the minimum stars, the board."""
    found = [Member(select(ImageTag.image_id).where(col(ImageTag.tag) == tag.lower()), col(ImageTag.image_id))
             for tag in query.tags]
    if query.min_rating is not None:
        found.append(Member(select(ImageRating.image_id).where(col(ImageRating.stars) >= query.min_rating),
                            col(ImageRating.image_id)))
    if query.board_id is not None:
        found.append(Member(select(BoardImage.image_id).where(col(BoardImage.board_id) == query.board_id),
                            col(BoardImage.image_id)))
    return found


def member_page(s: Session, narrow: Callable[[Any], Any], filters: list[Member], search: str | None, *,
                walkable: bool, descending: bool, limit: int, needs_prompt: bool) -> list[Any]:
    """The first `limit + 1` (Image, Prompt) rows in (created_at, id) order that `narrow` (scope, dates, cursor,
    prompt settings) keeps and that pass every filter and the text search. `walkable`: narrow's scope is one
    user's images, so the (user_id, created_at) index walks them in page order."""
    key, id_col = col(Image.created_at), col(Image.id)
    order = (key.desc(), id_col.desc()) if descending else (key.asc(), id_col.asc())
    text = search.strip() if search and search.strip() else None
    joined = select(Image, Prompt).join(Prompt, col(Prompt.id) == col(Image.prompt_id))
    if walkable:
        window = max(WINDOW_ROWS, WINDOW_PAGES * (limit + 1))
        edge = s.connection().execute(_ids(narrow, needs_prompt).order_by(*order).offset(window - 1).limit(1)).first()
        walk = narrow(joined).where(*(f.exists() for f in filters))
        if text is not None:
            walk = walk.where(contains(col(Prompt.prompt), text))
        if edge is not None:
            walk = walk.where(_up_to(key, id_col, edge[0], edge[1], descending))
        rows = list(s.exec(walk.order_by(*order).limit(limit + 1)))
        if edge is None or len(rows) > limit:  # the window held every row, or the whole page
            return rows
    ids = _ids(narrow, needs_prompt or text is not None).where(*(f.inside() for f in filters))
    if text is not None:  # the trigram index asked through images.prompt_id, which ix_images_id_live covers
        indexed = indexed_match(s, text, col(Image.prompt_id))
        ids = ids.where(contains(col(Prompt.prompt), text), *(() if indexed is None else (indexed,)))
    page = [r[1] for r in s.connection().execute(ids.order_by(*order).limit(limit + 1))]
    if not page:
        return []
    found = {image.id: (image, prompt) for image, prompt in s.exec(joined.where(col(Image.id).in_(page)))}
    return [found[i] for i in page if i in found]


def _ids(narrow: Callable[[Any], Any], needs_prompt: bool) -> Any:
    """(created_at, id) of the rows `narrow` keeps; joined to the prompt only when a filter reads it."""
    stmt = sa.select(col(Image.created_at), col(Image.id))
    if needs_prompt:
        stmt = stmt.join(Prompt, col(Prompt.id) == col(Image.prompt_id))
    return narrow(stmt)


def _up_to(key: Any, id_col: Any, value: Any, last_id: int, descending: bool) -> Any:
    """Rows up to and including (value, last_id) in the page order; the plain range first, so an index serves it."""
    if descending:
        return sa.and_(key >= value, sa.or_(key > value, id_col >= last_id))
    return sa.and_(key <= value, sa.or_(key < value, id_col <= last_id))
