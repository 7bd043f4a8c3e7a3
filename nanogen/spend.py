"""This month's spend, defined once: the cost of ended prompts plus the estimate of running ones
(and of queued batch rows), in UTC months.

Every figure that says "spent this month" (the budget check and widget, the profile, the dashboard card, the admin
overview and team total, a group's budget check and its admin console row, the `nanogen_spend_usd_month` metric)
reads it here, so they agree while jobs run. The
functions take a Session so the budget check can run them inside its write-locked insert transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nanogen.models import RESERVING, GroupMember, Prompt

MONEY_SCALE = Decimal('0.000001')  # the MONEY column's scale


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """[first instant of now's UTC month, first instant of the next one)."""
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_start(now: datetime) -> datetime:
    return month_bounds(now)[0]


def month_label(now: datetime) -> str:
    return now.astimezone(UTC).strftime('%Y-%m')


def spend_expression() -> sa.ColumnElement[Decimal]:
    """What a prompt counts against a budget: unfinished ones (and batch rows waiting their turn) reserve their
    estimate; finished ones their cost (zero for failures the provider did not bill)."""
    return sa.case((col(Prompt.status).in_(RESERVING), Prompt.estimated_cost), else_=Prompt.cost)


def in_month(start: datetime, end: datetime) -> list[Any]:
    """The filter for prompts created in [start, end)."""
    return [col(Prompt.created_at) >= start, col(Prompt.created_at) < end]


def money(value: Any) -> Decimal:
    # SQLite hands SUM() of a NUMERIC column back as a float; both databases agree after rounding to its scale.
    return Decimal(str(value or 0)).quantize(MONEY_SCALE)


def spend_in(s: Session, start: datetime, end: datetime, user_id: int | None = None) -> Decimal:
    """Spend of prompts created in [start, end): one user's, or the whole team's when user_id is None."""
    q = select(func.coalesce(func.sum(spend_expression()), 0)).where(*in_month(start, end))
    if user_id is not None:
        q = q.where(col(Prompt.user_id) == user_id)
    return money(s.exec(q).one())


def user_month_spend(s: Session, user_id: int, now: datetime) -> Decimal:
    return spend_in(s, *month_bounds(now), user_id)


def team_month_spend(s: Session, now: datetime) -> Decimal:
    return spend_in(s, *month_bounds(now))


def month_spend_per_user(s: Session, now: datetime) -> dict[int, Decimal]:
    """This month's spend of every user who made a prompt in it (others spent nothing)."""
    rows = s.exec(select(Prompt.user_id, func.sum(spend_expression())).where(*in_month(*month_bounds(now)))
                  .group_by(col(Prompt.user_id))).all()
    return {int(user_id): money(total) for user_id, total in rows}


def month_suspect_submits(s: Session, now: datetime) -> tuple[int, int]:
    """(prompts, resubmits) this UTC month that were sent again after a submit whose answer was lost: each such
    resubmit may have been billed twice by the provider (its estimate is in the prompt's cost)."""
    prompts, resubmits = s.exec(select(func.count(), func.coalesce(func.sum(col(Prompt.suspect_submits)), 0))
                                .where(col(Prompt.suspect_submits) > 0, *in_month(*month_bounds(now)))).one()
    return int(prompts or 0), int(resubmits or 0)


def group_members(s: Session, group_id: int) -> list[int]:
    return list(s.exec(select(GroupMember.user_id).where(col(GroupMember.group_id) == group_id)))


def group_month_spend(s: Session, group_id: int, now: datetime) -> Decimal:
    """This month's spend of a group: its current members' spend added up (a member's whole spend counts, whichever
    group they were in when they spent it)."""
    start, end = month_bounds(now)
    return sum((spend_in(s, start, end, uid) for uid in group_members(s, group_id)), Decimal(0))
