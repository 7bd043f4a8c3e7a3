"""Filtered, keyset-paginated reads of one user's images and prompts (gallery, history and the API share them).
Long because: the image and prompt pages share their keyset cursor code; the SQLite member plans are in member_pages.

Pages are cut on (sort key, id), never by OFFSET: a cursor names the last row seen, so rows inserted or removed
while someone pages neither shift nor repeat what follows. Every query is bounded by `user_id` first and walks the
(user_id, created_at) indexes; the text search is a case-insensitive substring match that trigram indexes serve
(see prompt_search).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, Literal, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nanogen.config import SIZES
from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.library.board_access import visible_to
from nanogen.library.cursors import BAD_CURSOR, decode_cursor, encode_cursor, parse_time
from nanogen.library.image_filters import apply_extra, check_extra
from nanogen.library.member_pages import member_page, members
from nanogen.library.search import search_filter, search_page
from nanogen.library.versions import roots_only, version_counts
from nanogen.models import BoardImage, Image, Prompt, Status
from nanogen.provider.wire import ALL_RATIOS

T = TypeVar('T')
MAX_LIMIT = 1000
IMAGE_SORTS = ('newest', 'oldest')
PROMPT_SORTS = ('newest', 'oldest', 'cost', 'duration')


@dataclass(frozen=True)
class ImageQuery:
    search: str | None = None          # case-insensitive substring of the prompt text
    favourites_only: bool = False
    size: int | None = None
    aspect_ratio: str | None = None
    date_from: datetime | None = None  # inclusive, aware UTC
    date_to: datetime | None = None    # exclusive
    sort: Literal['newest', 'oldest'] = 'newest'
    tags: tuple[str, ...] = ()        # every one of them (issue 16)
    min_rating: int | None = None
    model: str | None = None
    board_id: int | None = None       # images on this board (within the scope: the viewer's own in the gallery)
    cost_min: Decimal | None = None   # the prompt's whole cost, USD
    cost_max: Decimal | None = None
    group_versions: bool = False      # versions collapse under their root (one tile per version tree)
    resolution: str | None = None     # 1K/2K/4K: the models sized by resolution (Pro, 2); `size` is Nano Banana's


@dataclass(frozen=True)
class ImageRow:
    """One gallery tile / API item: the image and its prompt's settings."""

    id: int
    prompt_id: int
    position: int
    width: int
    height: int
    size_bytes: int
    is_favourite: bool
    created_at: datetime
    prompt: str
    image_size: int
    aspect_ratio: str
    watermark: str | None
    cost: Decimal
    duration_ms: int | None
    num_images: int
    root_image_id: int | None = None  # the first of its versions; None for a root
    version_count: int = 1  # live versions in its tree (the root included); the tile's badge when above 1
    owner_id: int = 0  # who made it: a teammate's image (Team gallery, a shared board) is seen, not managed
    model: str = 'nanobanana'
    resolution: str | None = None  # 1K/2K/4K for the models sized by resolution (then image_size is a placeholder)


@dataclass(frozen=True)
class PromptQuery:
    status: str | None = None
    size: int | None = None
    search: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    sort: Literal['newest', 'oldest', 'cost', 'duration'] = 'newest'


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


# ---------------------------------------------------------------------------------------------- public functions

async def list_images(db: Database, user_id: int, query: ImageQuery, *, cursor: str | None = None,
                      limit: int = 60) -> Page[ImageRow]:
    """The user's images (not soft-deleted), newest or oldest first, `limit` at a time."""
    return await _images_page(db, lambda stmt: live(stmt, user_id), 'i', query, cursor=cursor, limit=limit,
                              walkable=True)


async def list_board_images(db: Database, board_id: int, query: ImageQuery, *, cursor: str | None = None,
                            limit: int = 60) -> Page[ImageRow]:
    """The live images on a board, whoever made them: only for a viewer the caller has let see the board."""
    on_board = select(BoardImage.image_id).where(col(BoardImage.board_id) == board_id)
    return await list_images_in(db, on_board, f'b{board_id}', query, cursor=cursor, limit=limit)


async def list_images_in(db: Database, image_ids: Any, kind: str, query: ImageQuery, *, cursor: str | None = None,
                         limit: int = 60) -> Page[ImageRow]:
    """The live images whose ids the subquery `image_ids` gives (a board's, the team's), whoever made them; `kind`
    keeps one list's cursors out of another. Only for a viewer the caller has let see exactly those."""
    def scope(stmt: Any) -> Any:
        return stmt.where(col(Image.id).in_(image_ids), col(Image.deleted_at).is_(None))
    return await _images_page(db, scope, kind, query, cursor=cursor, limit=limit, walkable=False)


def _prompt_settings(stmt: Any, query: ImageQuery) -> Any:
    """The size, resolution and ratio filters (columns of the prompt)."""
    if query.size is not None:  # a pixel size: Pro and 2 store a placeholder 1024 beside their resolution
        stmt = stmt.where(col(Prompt.image_size) == query.size, col(Prompt.resolution).is_(None))
    if query.resolution is not None:
        stmt = stmt.where(col(Prompt.resolution) == query.resolution)
    if query.aspect_ratio is not None:
        stmt = stmt.where(col(Prompt.aspect_ratio) == query.aspect_ratio)
    return stmt


async def _images_page(db: Database, scope: Callable[[Any], Any], kind: str, query: ImageQuery, *,
                       cursor: str | None, limit: int, walkable: bool) -> Page[ImageRow]:
    """`walkable`: `scope` is one user's images, which the (user_id, created_at) index walks in page order."""
    _check_limit(limit)
    _check_common(query.size, query.date_from, query.date_to)
    check_extra(query)
    if query.sort not in IMAGE_SORTS:
        raise InvalidInput(f'Sort by one of: {", ".join(IMAGE_SORTS)}.', field='sort')
    if query.aspect_ratio is not None and query.aspect_ratio not in ALL_RATIOS:
        raise InvalidInput(f'Choose an aspect ratio of {", ".join(ALL_RATIOS)}.', field='aspect_ratio')
    after = decode_cursor(cursor, kind, query.sort)
    descending = query.sort == 'newest'

    key = col(Image.created_at)
    filters = members(query)
    needs_prompt = (query.size is not None or query.aspect_ratio is not None or query.model is not None
                    or query.cost_min is not None or query.cost_max is not None or query.resolution is not None)

    def narrow(stmt: Any) -> Any:
        """Everything but the membership filters and the text search."""
        stmt = apply_extra(scope(stmt), query)
        if query.favourites_only:
            stmt = stmt.where(col(Image.is_favourite).is_(True))
        if query.group_versions:
            stmt = roots_only(stmt)
        stmt = _prompt_settings(stmt, query)
        if query.date_from is not None:
            stmt = stmt.where(col(Image.created_at) >= _utc(query.date_from))
        if query.date_to is not None:
            stmt = stmt.where(col(Image.created_at) < _utc(query.date_to))
        if after is not None:
            stmt = stmt.where(_after(key, col(Image.id), parse_time(after[0]), after[1], descending))
        return stmt

    def work(s: Session) -> Page[ImageRow]:
        # SQLite sorts every match of a membership filter before the LIMIT: member_page plans those. PostgreSQL's
        # planner does well with the plain IN-subqueries (docs/benchmarks.md, issue 16).
        if (filters or not walkable) and s.get_bind().dialect.name == 'sqlite':
            rows = member_page(s, narrow, filters, query.search, walkable=walkable, descending=descending,
                               limit=limit, needs_prompt=needs_prompt)
        elif query.search and query.search.strip():
            stmt = narrow(select(Image, Prompt).join(Prompt, col(Prompt.id) == col(Image.prompt_id)))
            stmt = stmt.where(*(f.inside() for f in filters))
            rows = search_page(s, stmt, query.search, key, col(Image.id), descending, limit)
        else:
            stmt = narrow(select(Image, Prompt).join(Prompt, col(Prompt.id) == col(Image.prompt_id)))
            stmt = stmt.where(*(f.inside() for f in filters))
            order = (key.desc(), col(Image.id).desc()) if descending else (key.asc(), col(Image.id).asc())
            rows = list(s.exec(stmt.order_by(*order).limit(limit + 1)))
        items = with_version_counts(s, [image_row(image, prompt) for image, prompt in rows[:limit]])
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(kind, query.sort, last.created_at.isoformat(), last.id)
        return Page(items=items, next_cursor=next_cursor)

    return await db.run(work)


async def list_prompts(db: Database, user_id: int, query: PromptQuery, *, cursor: str | None = None,
                       limit: int = 50) -> Page[Prompt]:
    """The user's prompts: newest/oldest first, or the most expensive / slowest first."""
    _check_limit(limit)
    _check_prompt_query(query)
    after = decode_cursor(cursor, 'p', query.sort)
    descending = query.sort != 'oldest'

    def work(s: Session) -> Page[Prompt]:
        by_date = query.sort in ('newest', 'oldest')
        # Sorted by date, the search goes through search_page (it walks the (user_id, created_at) index).
        stmt = _filtered_prompts(select(Prompt), user_id, query, s, search=not by_date)
        key = _prompt_sort_key(query.sort)
        if after is not None:
            stmt = stmt.where(_after(key, col(Prompt.id), _cursor_value(query.sort, after[0]), after[1], descending))
        if by_date and query.search and query.search.strip():
            rows = search_page(s, stmt, query.search, key, col(Prompt.id), descending, limit)
        else:
            order = (key.desc(), col(Prompt.id).desc()) if descending else (key.asc(), col(Prompt.id).asc())
            rows = list(s.exec(stmt.order_by(*order).limit(limit + 1)))
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            assert last.id is not None
            next_cursor = encode_cursor('p', query.sort, _sort_value(query.sort, last), last.id)
        return Page(items=items, next_cursor=next_cursor)

    return await db.run(work)


async def count_prompts(db: Database, user_id: int, query: PromptQuery) -> int:
    """How many prompts match the filters (the sort is ignored)."""
    _check_prompt_query(query)

    def work(s: Session) -> int:
        stmt = _filtered_prompts(select(func.count()).select_from(Prompt), user_id, query, s)
        return int(s.exec(stmt).one())

    return await db.run(work)


async def images_of_prompts(db: Database, user_id: int, prompt_ids: list[int]) -> dict[int, list[Image]]:
    """The live images of several prompts in one query, by prompt id, in position order."""
    if not prompt_ids:
        return {}

    def work(s: Session) -> dict[int, list[Image]]:
        found: dict[int, list[Image]] = {pid: [] for pid in prompt_ids}
        rows = s.exec(live(select(Image).where(col(Image.prompt_id).in_(prompt_ids)), user_id)
                      .order_by(col(Image.prompt_id), col(Image.position)))
        for image in rows:
            found[image.prompt_id].append(image)
        return found

    return await db.run(work)


# ---------------------------------------------------------------------------------------------- filters

def _filtered_prompts(stmt: Any, user_id: int, query: PromptQuery, s: Session, *, search: bool = True) -> Any:
    stmt = stmt.where(col(Prompt.user_id) == user_id)
    if query.status is not None:
        stmt = stmt.where(col(Prompt.status) == query.status.upper())
    if query.size is not None:  # a pixel size: not the placeholder 1024 of the models sized by resolution
        stmt = stmt.where(col(Prompt.image_size) == query.size, col(Prompt.resolution).is_(None))
    if search and query.search and query.search.strip():
        stmt = stmt.where(search_filter(s, query.search))
    if query.date_from is not None:
        stmt = stmt.where(col(Prompt.created_at) >= _utc(query.date_from))
    if query.date_to is not None:
        stmt = stmt.where(col(Prompt.created_at) < _utc(query.date_to))
    return stmt


def _after(key: Any, id_col: Any, value: Any, last_id: int, descending: bool) -> Any:
    """Rows strictly after (value, last_id) in the page order."""
    if descending:
        return sa.or_(key < value, sa.and_(key == value, id_col < last_id))
    return sa.or_(key > value, sa.and_(key == value, id_col > last_id))


def _prompt_sort_key(sort: str) -> Any:
    if sort == 'cost':
        return col(Prompt.cost)
    if sort == 'duration':
        return func.coalesce(col(Prompt.duration_ms), -1)  # unfinished prompts last
    return col(Prompt.created_at)


def _sort_value(sort: str, prompt: Prompt) -> str | int:
    if sort == 'cost':
        return str(prompt.cost)
    if sort == 'duration':
        return prompt.duration_ms if prompt.duration_ms is not None else -1
    return prompt.created_at.isoformat()


def _cursor_value(sort: str, raw: object) -> Any:
    try:
        if sort == 'cost':
            return Decimal(str(raw))
        if sort == 'duration':
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValueError(raw)
            return raw
    except (InvalidOperation, ValueError):
        raise InvalidInput(BAD_CURSOR, field='cursor') from None
    return parse_time(raw)


# ---------------------------------------------------------------------------------------------- checks

def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f'The page size must be between 1 and {MAX_LIMIT}.', field='limit')


def _check_common(size: int | None, date_from: datetime | None, date_to: datetime | None) -> None:
    if size is not None and size not in SIZES:
        raise InvalidInput(f'Choose a size of {", ".join(map(str, SIZES))} pixels.', field='size')
    if date_from is not None and date_to is not None and _utc(date_from) >= _utc(date_to):
        raise InvalidInput('The start date must be before the end date.', field='date_from')


def _check_prompt_query(query: PromptQuery) -> None:
    _check_common(query.size, query.date_from, query.date_to)
    if query.sort not in PROMPT_SORTS:
        raise InvalidInput(f'Sort by one of: {", ".join(PROMPT_SORTS)}.', field='sort')
    if query.status is not None and query.status.upper() not in {s.value for s in Status}:
        raise InvalidInput(f'Filter by a status of {", ".join(s.value for s in Status)}.', field='status')


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def image_row(image: Image, prompt: Prompt) -> ImageRow:
    """One image with its prompt's settings, as the gallery and the API show it."""
    assert image.id is not None
    return ImageRow(id=image.id, prompt_id=image.prompt_id, position=image.position, width=image.width,
                    height=image.height, size_bytes=image.size_bytes, is_favourite=image.is_favourite,
                    created_at=image.created_at, prompt=prompt.prompt, image_size=prompt.image_size,
                    aspect_ratio=prompt.aspect_ratio, watermark=prompt.watermark, cost=prompt.cost,
                    duration_ms=prompt.duration_ms, num_images=prompt.num_images, root_image_id=image.root_image_id,
                    owner_id=image.user_id,
                    model=prompt.model, resolution=prompt.resolution)


def with_version_counts(s: Session, rows: list[ImageRow]) -> list[ImageRow]:
    """`rows` with how many versions each one's tree has (one grouped query for the page)."""
    counts = version_counts(s, [(r.id, r.root_image_id) for r in rows])
    return [replace(r, version_count=counts.get(r.id, 1)) for r in rows]


# ---------------------------------------------------------------------------------------------- single images
# The one reader of "this user's image": every read and every write of one image goes through these, so a
# soft-deleted image (deleted_at set, waiting for its undo window) is hidden from all of them at once.

def live(stmt: Any, user_id: int) -> Any:
    """`stmt` (a select over Image) narrowed to the user's images that are not deleted."""
    return stmt.where(col(Image.user_id) == user_id, col(Image.deleted_at).is_(None))


def own_image(s: Session, user_id: int, image_id: int) -> Image:
    """The user's live image; another user's, a deleted or a missing id all raise the same NotFound."""
    image = s.get(Image, image_id)
    if image is None or image.user_id != user_id or image.deleted_at is not None:
        raise NotFound('That image does not exist.')
    return image


def own_images(s: Session, user_id: int, image_ids: list[int]) -> dict[int, Image]:
    """The user's live images among `image_ids`, by id (the others are left out)."""
    return {i.id: i for i in s.exec(live(select(Image).where(col(Image.id).in_(image_ids)), user_id))
            if i.id is not None}


async def image_rows(db: Database, user_id: int, image_ids: Iterable[int], *,
                     visible: bool = False) -> list[ImageRow]:
    """The user's live images among `image_ids` with their prompts, in the order asked (others left out);
    `visible`: also those on a board shared with the user's groups (see board_access.visible_image)."""
    wanted = list(dict.fromkeys(image_ids))
    scope = visible_to if visible else live

    def work(s: Session) -> list[ImageRow]:
        stmt = scope(select(Image, Prompt).join(Prompt, col(Prompt.id) == col(Image.prompt_id))
                     .where(col(Image.id).in_(wanted)), user_id)
        rows = {image.id: image_row(image, prompt) for image, prompt in s.exec(stmt)}
        return with_version_counts(s, [rows[i] for i in wanted if i in rows])
    return await db.run(work) if wanted else []
