"""nanogen.ops.stats on SQLite and PostgreSQL: the dashboard and analytics numbers, one user's only."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from nanogen.db import Database
from nanogen.models import Prompt
from nanogen.ops import stats
from tests.support.library import add_user_row

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def add_prompt(db: Database, user_id: int, *, status: str = 'COMPLETED', size: int = 1024, n: int = 1,
               cost: str = '0.0125', at: datetime = NOW, duration_ms: int | None = 2000) -> None:
    with db.session() as s:
        s.add(Prompt(user_id=user_id, prompt='a test prompt', status=status, image_size=size, num_images=n,
                     cost=Decimal(cost), estimated_cost=Decimal(cost), created_at=at, updated_at=at,
                     duration_ms=duration_ms))
        s.commit()


async def test_summary_counts_only_this_users_prompts(db: Database) -> None:
    ada, bob = add_user_row(db, 'ada@example.com'), add_user_row(db, 'bob@example.com')
    add_prompt(db, ada, n=2, cost='0.025', duration_ms=1000)
    add_prompt(db, ada, n=1, cost='0.0125', duration_ms=3000, at=NOW - timedelta(days=40))  # last month
    add_prompt(db, ada, status='FAILED', cost='0', duration_ms=500)
    add_prompt(db, ada, status='PROCESSING', cost='0', duration_ms=None)
    add_prompt(db, ada, status='CANCELLED', cost='0.0125', duration_ms=None)  # submitted, so billed
    add_prompt(db, bob, n=4, cost='0.18')
    s = await stats.summary(db, ada, now=NOW)
    assert s.images_made == 3  # completed prompts only: 2 + 1
    assert s.spend_total == Decimal('0.050000')
    assert s.spend_month == Decimal('0.037500')
    assert (s.in_flight, s.completed, s.failed, s.cancelled) == (1, 2, 1, 1)
    assert s.success_rate == pytest.approx(2 / 3)
    assert s.avg_duration_ms == 2000  # completed ones only
    empty = await stats.summary(db, add_user_row(db, 'new@example.com'), now=NOW)
    assert empty.images_made == 0 and empty.spend_total == 0 and empty.success_rate is None
    assert empty.avg_duration_ms is None


async def test_daily_series_fills_gaps_and_respects_the_range(db: Database) -> None:
    ada, bob = add_user_row(db, 'ada@example.com'), add_user_row(db, 'bob@example.com')
    add_prompt(db, ada, at=datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), size=512, cost='0.005')
    add_prompt(db, ada, at=datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), size=512, cost='0.005', n=2)
    add_prompt(db, ada, at=datetime(2026, 3, 3, 10, tzinfo=UTC), status='FAILED', cost='0')
    add_prompt(db, ada, at=datetime(2026, 3, 4, 0, 0, tzinfo=UTC))  # the day after the range
    add_prompt(db, bob, at=datetime(2026, 3, 2, tzinfo=UTC), cost='1')
    days = await stats.daily(db, ada, date_from=date(2026, 3, 1), date_to=date(2026, 3, 3))
    assert [d.day for d in days] == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert [d.prompts for d in days] == [2, 0, 1]
    assert [d.images for d in days] == [3, 0, 0]
    assert [d.spend for d in days] == [Decimal('0.01'), Decimal(0), Decimal(0)]
    assert [(d.completed, d.failed) for d in days] == [(2, 0), (0, 0), (0, 1)]
    # A reversed range is read the right way round.
    assert len(await stats.daily(db, ada, date_from=date(2026, 3, 3), date_to=date(2026, 3, 1))) == 3


async def test_by_size_and_range_summary(db: Database) -> None:
    ada = add_user_row(db, 'ada@example.com')
    add_prompt(db, ada, size=1536, cost='0.045', at=datetime(2026, 2, 10, tzinfo=UTC))
    add_prompt(db, ada, size=512, cost='0.005', n=1)
    add_prompt(db, ada, size=512, cost='0.010', n=2)
    add_prompt(db, ada, size=512, status='FAILED', cost='0', duration_ms=100)
    sizes = await stats.by_size(db, ada)
    assert [(x.size, x.prompts, x.images, x.spend) for x in sizes] == [
        (512, 3, 3, Decimal('0.015')), (1536, 1, 1, Decimal('0.045'))]
    march = await stats.by_size(db, ada, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    assert [x.size for x in march] == [512]
    r = await stats.range_summary(db, ada, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    assert (r.completed, r.failed, r.images_made, r.spend_total) == (2, 1, 3, Decimal('0.015'))


async def test_aggregates_stay_fast_for_100k_prompts(db: Database) -> None:
    ada = add_user_row(db, 'ada@example.com')
    start = datetime(2025, 1, 1)
    rows = [{'user_id': ada, 'prompt': 'p', 'task_type': 'TEXT_TO_IMAGE', 'image_size': (512, 768, 1024, 1536)[i % 4],
             'aspect_ratio': '1:1', 'num_images': 1 + i % 4, 'model': 'nanobanana',
             'estimated_cost': Decimal('0.01'), 'cost': Decimal('0.01'), 'duration_ms': 1000 + i % 5000,
             'status': ('COMPLETED', 'COMPLETED', 'FAILED')[i % 3], 'submit_attempts': 1,
             'created_at': start + timedelta(minutes=5 * i), 'updated_at': start} for i in range(100_000)]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Prompt.__table__), rows)  # type: ignore[attr-defined]
    started = time.perf_counter()
    s, days, sizes = await asyncio.gather(
        stats.summary(db, ada), stats.daily(db, ada, date_from=date(2025, 1, 1), date_to=date(2025, 12, 31)),
        stats.by_size(db, ada))
    assert time.perf_counter() - started < 5
    assert s.completed + s.failed == 100_000 and len(days) == 365 and len(sizes) == 4
    assert sum(d.prompts for d in days) == sum(1 for r in rows if r['created_at'].year == 2025)
