"""One user's usage this month: how many generations and what they cost (read from prompts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, func, select

from nanogen.db import Database
from nanogen.models import Prompt, Status, utcnow
from nanogen.spend import in_month, month_bounds, user_month_spend


@dataclass(frozen=True)
class MonthlyUsage:
    month_start: datetime
    generations: int
    completed: int
    spend: Decimal  # nanogen.spend's figure: running jobs count their estimate, as in the budget widget


async def monthly_usage(db: Database, user_id: int, *, clock: Callable[[], datetime] = utcnow) -> MonthlyUsage:
    now = clock()
    start, end = month_bounds(now)

    def work(s: Session) -> MonthlyUsage:
        mine = [col(Prompt.user_id) == user_id, *in_month(start, end)]
        total = s.exec(select(func.count()).where(*mine)).one()
        done = s.exec(select(func.count()).where(*mine, col(Prompt.status) == Status.COMPLETED.value)).one()
        return MonthlyUsage(month_start=start, generations=int(total), completed=int(done),
                            spend=user_month_spend(s, user_id, now))
    return await db.run(work)


class UsageService:
    """monthly_usage bound to one database, for the pages (which get services, not the database)."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def monthly(self, user_id: int) -> MonthlyUsage:
        return await monthly_usage(self._db, user_id, clock=self._clock)
