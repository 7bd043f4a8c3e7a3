"""The membership-filtered gallery plans (nanogen.library.member_pages) on SQLite and PostgreSQL: whether a page is
found by walking the user's index (a common filter) or driven by the filter's rows (a rare one), the pages hold
exactly the rows, in exactly the order, that the filters mean, and page through without skips or repeats."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from bench import team_search
from bench.gallery import fill
from bench.team_search import label
from nanogen.db import Database
from nanogen.library import member_pages
from nanogen.library.queries import ImageQuery, list_board_images, list_images
from nanogen.models import BoardImage, Image, ImageRating, ImageTag, Prompt
from tests.support.library import add_user_row
from tests.support.paging import all_pages

ROWS = 400


@pytest.fixture
def library(db: Database, monkeypatch: pytest.MonkeyPatch) -> tuple[Database, int, int]:
    """Ada's 400 tagged images (bench.team_search's labels: 'zine' on 5%, tag-N on 2%, a tenth on a board), one of
    them deleted, beside Bob's 100 with the same tags; a window of 40 rows, so both plans run."""
    monkeypatch.setattr(member_pages, 'WINDOW_ROWS', 40)
    monkeypatch.setattr(member_pages, 'WINDOW_PAGES', 1)
    ada, bob = add_user_row(db, 'ada@example.com'), add_user_row(db, 'bob@example.com')
    fill(db, ada, 0, ROWS, datetime(2024, 1, 1, tzinfo=UTC))
    fill(db, bob, 0, 100, datetime(2024, 1, 1, tzinfo=UTC))  # the same times: ties are broken by id
    board = label(db, ada)
    label(db, bob)
    with db.engine.begin() as conn:
        first = conn.execute(sa.select(sa.func.min(Image.id)).where(Image.user_id == ada)).scalar_one()
        conn.execute(sa.update(Image).where(Image.id == first + 20).values(deleted_at=datetime.now(UTC)))
    return db, ada, board


def expected(db: Database, scope: str, owner: int, query: ImageQuery, board: int) -> list[int]:
    """The ids the filters mean, computed the plain way, in page order."""
    with db.engine.connect() as conn:
        images = conn.execute(sa.select(Image.id, Image.user_id, Image.created_at, Prompt.prompt)
                              .join(Prompt, Prompt.id == Image.prompt_id).where(Image.deleted_at.is_(None))).all()
        tags = {(r[0], r[1]) for r in conn.execute(sa.select(ImageTag.image_id, ImageTag.tag))}
        stars = dict(conn.execute(sa.select(ImageRating.image_id, ImageRating.stars)).all())
        on_board = {r[0] for r in conn.execute(sa.select(BoardImage.image_id).where(BoardImage.board_id == board))}
    keep = [r for r in images
            if ((scope == 'board' and r[0] in on_board) or (scope == 'gallery' and r[1] == owner))
            and all((r[0], t) in tags for t in query.tags)
            and (query.min_rating is None or stars.get(r[0], 0) >= query.min_rating)
            and (query.board_id is None or r[0] in on_board)
            and (query.search is None or query.search.lower() in r[3].lower())]
    keep.sort(key=lambda r: (r[2], r[0]), reverse=query.sort == 'newest')
    return [r[0] for r in keep]


QUERIES = [ImageQuery(tags=('zine',)), ImageQuery(tags=('tag-7',)), ImageQuery(tags=('zine', 'tag-0')),
           ImageQuery(tags=('zine',), search='lighthouse'), ImageQuery(tags=('tag-0',), search='misty'),
           ImageQuery(min_rating=1), ImageQuery(board_id=-1), ImageQuery(board_id=-1, tags=('tag-10',)),
           ImageQuery(board_id=-1, sort='oldest'), ImageQuery(tags=('tag-4',), sort='oldest')]


BOARD_QUERIES = [ImageQuery(), ImageQuery(tags=('zine',)), ImageQuery(sort='oldest'), ImageQuery(search='lighthouse')]


async def test_filtered_pages_hold_exactly_the_matches_in_order(library) -> None:
    db, ada, board = library  # one library for every query: its set-up is most of the time
    for query in QUERIES:
        if query.board_id == -1:
            query = ImageQuery(**{**vars(query), 'board_id': board})
        want = expected(db, 'gallery', ada, query, board)
        assert want, f'the data set should match something: {query}'
        for limit in (3, 7):
            got = await all_pages(lambda q=query, **kw: list_images(db, ada, q, **kw), limit)
            assert [i.id for i in got] == want, query
    for query in BOARD_QUERIES:
        want = expected(db, 'board', ada, query, board)
        assert want, f'the data set should match something: {query}'
        got = await all_pages(lambda q=query, **kw: list_board_images(db, board, q, **kw), 7)
        assert [i.id for i in got] == want, query


def test_every_bench_query_matches_some_of_the_bench_data(library) -> None:
    """bench.team_search once timed "stars >= 4" and "two tags" over data neither matched (every rating was 1 star;
    zine and tag-7 never met): each of its queries must match rows, counted the plain way."""
    db, ada, board = library
    for name, query in team_search.QUERIES.items():
        if query.board_id == -1:
            query = ImageQuery(**{**vars(query), 'board_id': board})
        assert expected(db, 'gallery', ada, query, board), name
    assert len(expected(db, 'gallery', ada, ImageQuery(min_rating=4), board)) >= ROWS // 20  # 8% of the images
