"""Monthly budgets: per-user limits and the team cap, checked atomically inside the insert's write transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import BudgetExceeded
from nanogen.generation.group_policy import check_group_budgets, group_budgets_left
from nanogen.models import AuditEvent, User, utcnow
from nanogen.spend import month_label, team_month_spend, user_month_spend

log = logging.getLogger(__name__)
WARN_RATIO = Decimal('0.8')
TEAM_LOCK_KEY = 7_263_001  # pg_advisory_xact_lock key serialising team-cap checks across replicas
ZERO = Decimal(0)


def usd(amount: Decimal | float | int) -> str:
    """The one money format, everywhere a person reads dollars (pages re-export it as `pages._format.money`).

    Under $1: four decimals, because prices are sub-cent ($0.0125, $0.2050, never $0.205 or $0.21);
    $1 and more: cents with thousands separators ($12.35, $1,234.50); zero: $0.00.
    """
    value = Decimal(str(amount))
    sign, size = ('-' if value < 0 else ''), abs(value)
    if size == 0:
        return '$0.00'
    if size < 1:
        return f'{sign}${size.quantize(Decimal("0.0001"), ROUND_HALF_UP):.4f}'
    return f'{sign}${size.quantize(Decimal("0.01"), ROUND_HALF_UP):,.2f}'


@dataclass(frozen=True)
class BudgetStatus:
    """One user's month: limit None means unlimited. `remaining` is the smallest of what is left of the user's budget,
    their groups' budgets and the team cap."""

    limit: Decimal | None
    spent: Decimal
    remaining: Decimal | None
    team_cap: Decimal | None
    team_spent: Decimal
    group: str | None = None  # the group whose budget is the smallest of what is left, when it is the binding one

    @property
    def used_ratio(self) -> Decimal:
        return self.spent / self.limit if self.limit else ZERO


class BudgetService:
    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._warned: set[tuple[int, str]] = set()

    def limit_for(self, user: User | None) -> Decimal | None:
        """The user's own budget if an admin set one, else the default; 0 means unlimited."""
        value = user.monthly_budget if user is not None and user.monthly_budget is not None \
            else self.settings.monthly_budget_usd
        return Decimal(value) if value and Decimal(value) > 0 else None

    @property
    def team_cap(self) -> Decimal | None:
        cap = self.settings.team_monthly_cap_usd
        return Decimal(cap) if cap and cap > 0 else None

    def check(self, s: Session, user_id: int, estimate: Decimal, *, warn: bool = True) -> None:
        """Raise BudgetExceeded if `estimate` does not fit. Must run in the transaction that inserts the prompt,
        after the user's row is locked (GenerationService does both), so parallel requests cannot overspend.
        `warn=False` for a probe that submits nothing (a batch preview, "how many rows would fit"): no 80% warning
        is logged or remembered for it, so the real submission still records it."""
        now = self.clock()
        cap = self.team_cap
        if cap is not None:
            if s.get_bind().dialect.name == 'postgresql':  # SQLite's BEGIN IMMEDIATE already serialises writers
                s.execute(sa.text('SELECT pg_advisory_xact_lock(:k)'), {'k': TEAM_LOCK_KEY})
            team_spent = team_month_spend(s, now)
            if team_spent + estimate > cap:
                left = max(ZERO, cap - team_spent)
                raise BudgetExceeded(f"The team's monthly cap of {usd(cap)} is spent ({usd(left)} left; this costs "
                                     f'{usd(estimate)}). Ask an admin to raise it.')
        check_group_budgets(s, user_id, estimate, now, usd)  # issue 16: each of the user's groups' budgets
        limit = self.limit_for(s.get(User, user_id))
        if limit is None:
            return
        spent = user_month_spend(s, user_id, now)
        if spent + estimate > limit:
            left = max(ZERO, limit - spent)
            raise BudgetExceeded(f'Your monthly budget of {usd(limit)} is spent ({usd(left)} left; this costs '
                                 f'{usd(estimate)}). Ask an admin to raise it.')
        if warn and spent + estimate >= limit * WARN_RATIO:
            self._warn_once(s, user_id, month_label(now), spent + estimate, limit)

    def _warn_once(self, s: Session, user_id: int, month: str, spent: Decimal, limit: Decimal) -> None:
        """One WARNING line per user per month; the audit row makes it once across restarts and replicas too."""
        key = (user_id, month)
        if key in self._warned:
            return
        self._warned.add(key)
        target = f'user:{user_id}'
        seen = s.exec(select(AuditEvent.id).where(col(AuditEvent.action) == 'budget.warning', col(AuditEvent.target) == target,
                                                  col(AuditEvent.detail) == month)).first()
        if seen is None:
            s.add(AuditEvent(action='budget.warning', target=target, detail=month))
            log.warning('user %s has used %.0f%% of their monthly budget of %s in %s', user_id,
                        float(spent / limit * 100), usd(limit), month)

    async def remaining(self, user_id: int) -> BudgetStatus:
        """What is left this month, for the UI (a read: the authoritative check is `check`)."""
        now = self.clock()

        def work(s: Session) -> BudgetStatus:
            limit = self.limit_for(s.get(User, user_id))
            spent = user_month_spend(s, user_id, now)
            cap = self.team_cap
            team_spent = team_month_spend(s, now) if cap is not None else ZERO
            left: Decimal | None = None if limit is None else max(ZERO, limit - spent)
            if cap is not None:
                team_left = max(ZERO, cap - team_spent)
                left = team_left if left is None else min(left, team_left)
            group = None
            for name, group_left in group_budgets_left(s, user_id, now):
                if left is None or group_left < left:
                    left, group = group_left, name
            return BudgetStatus(limit=limit, spent=spent, remaining=left, team_cap=cap, team_spent=team_spent,
                                group=group)
        return await self.db.run(work)
