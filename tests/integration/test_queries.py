"""nanogen.library.queries on SQLite and PostgreSQL: filters, keyset pagination, isolation between users, bad cursors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from nanogen.db import Database
from nanogen.errors import InvalidInput
from nanogen.library.queries import ImageQuery, PromptQuery, count_prompts, list_images, list_prompts
from nanogen.models import Image, Prompt
from tests.support.library import add_user_row
from tests.support.paging import all_pages

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)



def add_prompt(db: Database, user_id: int, text: str, *, at: datetime, size: int = 1024, ratio: str = '1:1',
               status: str = 'COMPLETED', cost: str = '0.0125', duration_ms: int | None = 1000,
               images: int = 1, favourite: bool = False, deleted: bool = False) -> tuple[int, list[int]]:
    with db.session() as s:
        prompt = Prompt(user_id=user_id, prompt=text, image_size=size, aspect_ratio=ratio, status=status,
                        cost=Decimal(cost), duration_ms=duration_ms, num_images=max(1, images), created_at=at)
        s.add(prompt)
        s.flush()
        assert prompt.id is not None
        rows = [Image(user_id=user_id, prompt_id=prompt.id, position=n, key=f'k{prompt.id}-{n}', original_key='o',
                      thumb_key='t', width=size, height=size, size_bytes=100, is_favourite=favourite,
                      deleted_at=at if deleted else None, created_at=at) for n in range(images)]
        s.add_all(rows)
        s.commit()
        return prompt.id, [r.id for r in rows if r.id is not None]



async def test_images_filters_order_and_isolation(db: Database) -> None:
    ada, bob = add_user_row(db, 'ada@example.com'), add_user_row(db, 'bob@example.com')
    _, fox = add_prompt(db, ada, 'A red FOX in snow', at=T0, size=512, ratio='16:9', images=2)
    _, cat = add_prompt(db, ada, 'a cat, 100% fluffy', at=T0 + timedelta(hours=1), favourite=True)
    add_prompt(db, ada, 'a deleted dog', at=T0 + timedelta(hours=2), deleted=True)
    add_prompt(db, bob, 'a red fox of bob', at=T0 + timedelta(hours=3))

    page = await list_images(db, ada, ImageQuery())
    assert [r.id for r in page.items] == [cat[0], fox[1], fox[0]] and page.next_cursor is None
    first = page.items[0]
    assert first.prompt == 'a cat, 100% fluffy' and first.image_size == 1024 and first.cost == Decimal('0.0125')
    oldest = await list_images(db, ada, ImageQuery(sort='oldest'))
    assert [r.id for r in oldest.items] == [fox[0], fox[1], cat[0]]
    assert [r.id for r in (await list_images(db, ada, ImageQuery(search='fox'))).items] == [fox[1], fox[0]]
    assert [r.id for r in (await list_images(db, ada, ImageQuery(search='100%'))).items] == cat
    assert (await list_images(db, ada, ImageQuery(search='100_'))).items == []  # wildcards are literal
    assert [r.id for r in (await list_images(db, ada, ImageQuery(favourites_only=True))).items] == cat
    assert [r.id for r in (await list_images(db, ada, ImageQuery(size=512, aspect_ratio='16:9'))).items] == \
        [fox[1], fox[0]]
    window = ImageQuery(date_from=T0 + timedelta(minutes=30), date_to=T0 + timedelta(hours=1, seconds=1))
    assert [r.id for r in (await list_images(db, ada, window)).items] == cat
    assert (await list_images(db, ada, ImageQuery(date_to=T0))).items == []  # date_to is exclusive
    bobs = await list_images(db, bob, ImageQuery())
    assert len(bobs.items) == 1 and bobs.items[0].prompt == 'a red fox of bob'


async def test_image_pages_neither_skip_nor_repeat_under_concurrent_inserts(db: Database) -> None:
    ada = add_user_row(db, 'ada@example.com')
    ids: list[int] = []
    for n in range(25):  # several images share a timestamp: the id breaks the tie
        ids += add_prompt(db, ada, f'prompt {n}', at=T0 + timedelta(seconds=n // 3), images=2)[1]
    expected = sorted(ids, key=lambda i: i, reverse=True)
    seen: list[int] = []
    cursor = None
    n = 0
    while True:
        page = await list_images(db, ada, ImageQuery(), cursor=cursor, limit=7)
        seen += [r.id for r in page.items]
        # someone generates while we page: newer images must not push older ones into the next page
        add_prompt(db, ada, f'new {n}', at=T0 + timedelta(days=1, seconds=n))
        n += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    oldest_first = await all_pages(lambda **kw: list_images(db, ada, ImageQuery(sort='oldest'), **kw), 4)
    assert len(oldest_first) == len(set(r.id for r in oldest_first)) == 50 + n
    assert [r.created_at for r in oldest_first] == sorted(r.created_at for r in oldest_first)


@pytest.mark.parametrize('sort', ['newest', 'oldest', 'cost', 'duration'])
async def test_prompt_pages_cover_every_row_once_in_every_sort(db: Database, sort: str) -> None:
    ada, bob = add_user_row(db, 'ada@example.com'), add_user_row(db, 'bob@example.com')
    costs = ['0.005', '0.0125', '0.045', '0.0125', '0']
    durations = [1200, None, 800, 1200, 3000]
    mine = [add_prompt(db, ada, f'p{n}', at=T0 + timedelta(seconds=n // 2), cost=costs[n % 5],
                       duration_ms=durations[n % 5])[0] for n in range(23)]
    add_prompt(db, bob, 'not yours', at=T0)
    rows = await all_pages(lambda **kw: list_prompts(db, ada, PromptQuery(sort=sort), **kw), 5)  # type: ignore
    assert sorted(r.id for r in rows) == sorted(mine) and len(rows) == 23
    key = {'newest': lambda r: (r.created_at, r.id), 'oldest': lambda r: (r.created_at, r.id),
           'cost': lambda r: (r.cost, r.id), 'duration': lambda r: (r.duration_ms or -1, r.id)}[sort]
    assert [r.id for r in rows] == [r.id for r in sorted(rows, key=key, reverse=sort != 'oldest')]


async def test_prompt_filters_and_count(db: Database) -> None:
    ada = add_user_row(db, 'ada@example.com')
    add_prompt(db, ada, 'a red fox', at=T0, status='COMPLETED', size=512)
    add_prompt(db, ada, 'a blue fox', at=T0 + timedelta(hours=1), status='FAILED')
    add_prompt(db, ada, 'a whale', at=T0 + timedelta(hours=2), status='PENDING', images=0)
    assert await count_prompts(db, ada, PromptQuery()) == 3
    assert await count_prompts(db, ada, PromptQuery(search='FOX')) == 2
    assert await count_prompts(db, ada, PromptQuery(status='failed')) == 1
    assert await count_prompts(db, ada, PromptQuery(size=512)) == 1
    assert await count_prompts(db, ada, PromptQuery(date_from=T0 + timedelta(minutes=1))) == 2
    page = await list_prompts(db, ada, PromptQuery(status='PENDING'))
    assert [p.prompt for p in page.items] == ['a whale']


@pytest.mark.parametrize('cursor', ['garbage!', 'W10', 'WyJwIiwibmV3ZXN0IiwieCIsMV0', 'a' * 600, '%%%'])
async def test_a_bad_cursor_is_invalid_input_naming_the_field(db: Database, cursor: str) -> None:
    ada = add_user_row(db, 'ada@example.com')
    with pytest.raises(InvalidInput) as err:
        await list_images(db, ada, ImageQuery(), cursor=cursor)
    assert err.value.field == 'cursor'
    with pytest.raises(InvalidInput) as err:
        await list_prompts(db, ada, PromptQuery(sort='cost'), cursor=cursor)
    assert err.value.field == 'cursor'


async def test_a_cursor_from_another_list_or_sort_is_refused(db: Database) -> None:
    ada = add_user_row(db, 'ada@example.com')
    for n in range(3):
        add_prompt(db, ada, f'p{n}', at=T0 + timedelta(seconds=n))
    cursor = (await list_images(db, ada, ImageQuery(), limit=1)).next_cursor
    assert cursor
    with pytest.raises(InvalidInput, match='cursor'):
        await list_images(db, ada, ImageQuery(sort='oldest'), cursor=cursor)
    with pytest.raises(InvalidInput, match='cursor'):
        await list_prompts(db, ada, PromptQuery(), cursor=cursor)


@pytest.mark.parametrize(('call', 'field'), [
    (lambda db: list_images(db, 1, ImageQuery(size=999)), 'size'),
    (lambda db: list_images(db, 1, ImageQuery(aspect_ratio='7:1')), 'aspect_ratio'),
    (lambda db: list_images(db, 1, ImageQuery(sort='random')), 'sort'),  # type: ignore[arg-type]
    (lambda db: list_images(db, 1, ImageQuery(), limit=0), 'limit'),
    (lambda db: list_images(db, 1, ImageQuery(date_from=T0, date_to=T0)), 'date_from'),
    (lambda db: list_prompts(db, 1, PromptQuery(status='DONE')), 'status'),
    (lambda db: count_prompts(db, 1, PromptQuery(sort='size')), 'sort'),  # type: ignore[arg-type]
])
async def test_bad_filters_are_invalid_input_naming_the_field(db: Database, call, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        await call(db)
    assert err.value.field == field


async def test_fast_with_100k_images_of_one_user(db: Database) -> None:
    ada, bob = add_user_row(db, 'ada@example.com'), add_user_row(db, 'bob@example.com')
    n_prompts = 50_000
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Prompt), [
            dict(user_id=ada if n % 10 else bob, prompt=f'prompt number {n}' + (' needle' if n == 7 else ''),
                 task_type='TEXT_TO_IMAGE', image_size=1024, aspect_ratio='1:1', num_images=2, model='nanobanana',
                 estimated_cost=Decimal('0.025'), cost=Decimal('0.025'), status='COMPLETED', submit_attempts=1,
                 created_at=T0 + timedelta(seconds=n), updated_at=T0) for n in range(n_prompts)])
        first_id = conn.execute(sa.select(sa.func.min(Prompt.id))).scalar_one()
        conn.execute(sa.insert(Image), [
            dict(user_id=ada if n % 10 else bob, prompt_id=first_id + n, position=p, key=f'k{n}-{p}',
                 original_key='o', thumb_key='t', content_type='image/png', width=1024, height=1024, size_bytes=1,
                 sha256='', is_favourite=n % 100 == 0, created_at=T0 + timedelta(seconds=n))
            for n in range(n_prompts) for p in range(2)])
        if not db.is_sqlite:
            conn.exec_driver_sql('ANALYZE')
    started = time.perf_counter()
    page = await list_images(db, ada, ImageQuery(), limit=60)
    deep = page
    for _ in range(5):
        deep = await list_images(db, ada, ImageQuery(), cursor=deep.next_cursor, limit=60)
    assert len(deep.items) == 60 and deep.next_cursor
    assert time.perf_counter() - started < 1.5
    started = time.perf_counter()
    found = await list_images(db, ada, ImageQuery(search='needle'))  # a LIKE scan over this user's rows
    favs = await list_images(db, ada, ImageQuery(favourites_only=True), limit=60)
    assert len(found.items) == 2 and len(favs.items) == 0  # favourites are all bob's (n % 100 == 0)
    assert await count_prompts(db, ada, PromptQuery()) == 45_000
    assert time.perf_counter() - started < 4.0
