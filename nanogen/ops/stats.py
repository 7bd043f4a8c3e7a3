"""Numbers about one user's generations: dashboard cards and analytics series, aggregated in SQL.

Every spend figure here sums `nanogen.spend.spend_expression` (ended prompts' cost plus the estimate reserved by
running ones and queued batch rows), the same definition as "spent this month" and the budget check, so a batch's
reservation shows in the total, the ranges, the days and the sizes as soon as the batch is made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col

from nanogen.db import Database
from nanogen.errors import InvalidInput
from nanogen.generation.catalogue import size_label
from nanogen.models import UNFINISHED, Prompt, Status, utcnow
from nanogen.spend import money as _money
from nanogen.spend import spend_expression, user_month_spend


@dataclass(frozen=True)
class Summary:
    """The dashboard's cards. `success_rate` is completed / (completed + failed); None before anything ended. Spend
    includes what running prompts and queued batch rows reserve (nanogen.spend)."""

    images_made: int
    spend_total: Decimal
    spend_month: Decimal
    in_flight: int
    completed: int
    failed: int
    cancelled: int
    avg_duration_ms: int | None

    @property
    def success_rate(self) -> float | None:
        ended = self.completed + self.failed
        return self.completed / ended if ended else None


@dataclass(frozen=True)
class DayStat:
    day: date
    prompts: int
    images: int
    spend: Decimal
    completed: int
    failed: int


@dataclass(frozen=True)
class UsageBucket:
    """One UTC day or month of a user's usage; `images` counts what their completed prompts made (a later delete
    does not change history, as it does not change spend)."""

    period_start: datetime
    prompts: int = 0
    completed: int = 0
    failed: int = 0
    images: int = 0
    spend: Decimal = Decimal(0)


@dataclass(frozen=True)
class SizeStat:
    size: int
    prompts: int
    images: int
    spend: Decimal
    model: str = 'nanobanana'
    resolution: str | None = None  # Pro and 2: what they are sized by (then `size` is unused)

    @property
    def label(self) -> str:
        return size_label(self.model, self.size, self.resolution)


def _day_bounds(date_from: date | None, date_to: date | None) -> list[Any]:
    """Filters for an inclusive range of UTC days."""
    where: list[Any] = []
    if date_from:
        where.append(col(Prompt.created_at) >= datetime.combine(date_from, time.min))
    if date_to:
        where.append(col(Prompt.created_at) < datetime.combine(date_to + timedelta(days=1), time.min))
    return where


def _completed(expr: Any) -> Any:
    return sa.case((col(Prompt.status) == Status.COMPLETED.value, expr), else_=0)


def _count_if(status: str) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((col(Prompt.status) == status, 1), else_=0)), 0)


async def summary(db: Database, user_id: int, *, now: datetime | None = None) -> Summary:
    """All-time numbers plus this UTC month's spend (nanogen.spend's figure, as the budget widget shows it)."""
    at = now or utcnow()

    def work(s: Session) -> Summary:
        return _summary(s, user_id, month_spend=lambda: user_month_spend(s, user_id, at))
    return await db.run(work)


async def range_summary(db: Database, user_id: int, *, date_from: date | None = None,
                        date_to: date | None = None) -> Summary:
    """Like `summary`, limited to a range of days (spend_month is the range's spend too)."""
    def work(s: Session) -> Summary:
        return _summary(s, user_id, *_day_bounds(date_from, date_to))  # the range's spend is its "month"
    return await db.run(work)


def _summary(s: Session, user_id: int, *where: Any, month_spend: Callable[[], Decimal] | None = None) -> Summary:
    row = s.execute(sa.select(
        sa.func.coalesce(sa.func.sum(_completed(col(Prompt.num_images))), 0),
        sa.func.sum(spend_expression()),
        sa.func.coalesce(sa.func.sum(sa.case((col(Prompt.status).in_(UNFINISHED), 1), else_=0)), 0),
        _count_if(Status.COMPLETED.value), _count_if(Status.FAILED.value), _count_if(Status.CANCELLED.value),
        sa.func.avg(sa.case((col(Prompt.status) == Status.COMPLETED.value, col(Prompt.duration_ms)), else_=None)),
    ).where(col(Prompt.user_id) == user_id, *where)).one()
    spend = _money(row[1])
    return Summary(images_made=int(row[0]), spend_total=spend,
                   spend_month=month_spend() if month_spend is not None else spend, in_flight=int(row[2]),
                   completed=int(row[3]), failed=int(row[4]), cancelled=int(row[5]),
                   avg_duration_ms=None if row[6] is None else int(row[6]))


def _day_expr(db: Database) -> Any:
    # Timestamps are stored as naive UTC: SQLite's date() and PostgreSQL's cast both give the UTC day.
    if db.is_sqlite:
        return sa.func.date(col(Prompt.created_at))
    return sa.cast(col(Prompt.created_at), sa.Date)


async def usage(db: Database, user_id: int, *, period: Literal['day', 'month'], date_from: datetime,
                date_to: datetime) -> list[UsageBucket]:
    """Prompts, images and spend per UTC day or month in [date_from, date_to); only periods with activity, oldest
    first. The one usage count: the API's /me/usage and the Analytics page's days both read it."""
    if period not in ('day', 'month'):
        raise InvalidInput('Group by day or month.', field='period')
    start, end = _aware(date_from), _aware(date_to)
    if start >= end:
        raise InvalidInput('The start date must be before the end date.', field='date_from')

    def work(s: Session) -> list[Any]:
        day = _day_expr(db).label('day')
        return list(s.execute(sa.select(
            day, sa.func.count(), sa.func.coalesce(sa.func.sum(_completed(col(Prompt.num_images))), 0),
            sa.func.sum(spend_expression()), _count_if(Status.COMPLETED.value), _count_if(Status.FAILED.value),
        ).where(col(Prompt.user_id) == user_id, col(Prompt.created_at) >= start, col(Prompt.created_at) < end)
            .group_by(day)))
    buckets: dict[datetime, UsageBucket] = {}
    for r in await db.run(work):
        day_of = r[0] if isinstance(r[0], date) else date.fromisoformat(str(r[0]))
        key = datetime.combine(day_of.replace(day=1) if period == 'month' else day_of, time.min, UTC)
        b = buckets.get(key) or UsageBucket(period_start=key)
        buckets[key] = UsageBucket(period_start=key, prompts=b.prompts + int(r[1]), images=b.images + int(r[2]),
                                   spend=b.spend + _money(r[3]), completed=b.completed + int(r[4]),
                                   failed=b.failed + int(r[5]))
    return [buckets[k] for k in sorted(buckets)]


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def daily(db: Database, user_id: int, *, date_from: date, date_to: date) -> list[DayStat]:
    """One row per day in the range, days without prompts included (as zeros), oldest first (`usage` by day)."""
    if date_to < date_from:
        date_from, date_to = date_to, date_from
    found = {b.period_start.date(): b for b in await usage(
        db, user_id, period='day', date_from=datetime.combine(date_from, time.min, UTC),
        date_to=datetime.combine(date_to + timedelta(days=1), time.min, UTC))}
    result = []
    current = date_from
    while current <= date_to:
        b = found.get(current) or UsageBucket(period_start=datetime.combine(current, time.min, UTC))
        result.append(DayStat(day=current, prompts=b.prompts, images=b.images, spend=_money(b.spend),
                              completed=b.completed, failed=b.failed))
        current += timedelta(days=1)
    return result


async def by_size(db: Database, user_id: int, *, date_from: date | None = None,
                  date_to: date | None = None) -> list[SizeStat]:
    """Prompts, images and spend per model and image size or resolution (only those used): Nano Banana's sizes
    smallest first, then the other models by resolution."""
    def work(s: Session) -> list[Any]:
        keys = (col(Prompt.model), col(Prompt.resolution), col(Prompt.image_size))
        return list(s.execute(sa.select(
            *keys, sa.func.count(), sa.func.coalesce(sa.func.sum(_completed(col(Prompt.num_images))), 0),
            sa.func.sum(spend_expression()),
        ).where(col(Prompt.user_id) == user_id, *_day_bounds(date_from, date_to)).group_by(*keys)))
    stats = [SizeStat(model=str(r[0]), resolution=r[1], size=int(r[2]), prompts=int(r[3]), images=int(r[4]),
                      spend=_money(r[5])) for r in await db.run(work)]
    return sorted(stats, key=lambda st: (st.resolution is not None, st.model, st.resolution or '', st.size))


class StatsService:
    """The functions above bound to one database, for callers that get services rather than the database (pages)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def summary(self, user_id: int, *, now: datetime | None = None) -> Summary:
        return await summary(self._db, user_id, now=now)

    async def range_summary(self, user_id: int, *, date_from: date | None = None,
                            date_to: date | None = None) -> Summary:
        return await range_summary(self._db, user_id, date_from=date_from, date_to=date_to)

    async def usage(self, user_id: int, *, period: Literal['day', 'month'], date_from: datetime,
                    date_to: datetime) -> list[UsageBucket]:
        return await usage(self._db, user_id, period=period, date_from=date_from, date_to=date_to)

    async def daily(self, user_id: int, *, date_from: date, date_to: date) -> list[DayStat]:
        return await daily(self._db, user_id, date_from=date_from, date_to=date_to)

    async def by_size(self, user_id: int, *, date_from: date | None = None,
                      date_to: date | None = None) -> list[SizeStat]:
        return await by_size(self._db, user_id, date_from=date_from, date_to=date_to)
