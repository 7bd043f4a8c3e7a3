"""One user's usage this month: how many generations and what they cost (read from prompts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session, col, func, select

from nanogen.db import Database
from nanogen.models import Prompt, utcnow


@dataclass(frozen=True)
class MonthlyUsage:
    month_start: datetime
    generations: int
    completed: int
    spend: Decimal


def month_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


async def monthly_usage(db: Database, user_id: int, *, clock: Callable[[], datetime] = utcnow) -> MonthlyUsage:
    start = month_start(clock())

    def work(s: Session) -> MonthlyUsage:
        base = select(func.count(), func.coalesce(func.sum(Prompt.cost), 0)).where(
            Prompt.user_id == user_id, col(Prompt.created_at) >= start)
        total, spend = s.exec(base).one()
        done = s.exec(select(func.count()).where(Prompt.user_id == user_id, col(Prompt.created_at) >= start,
                                                 Prompt.status == 'COMPLETED')).one()
        return MonthlyUsage(month_start=start, generations=int(total), completed=int(done),
                            spend=Decimal(str(spend)).quantize(Decimal('0.0001')))
    return await db.run(work)
