"""The admin console's service: usage per user, budgets, disabling, stuck jobs, failures, exports, the audit trail.

Every method that changes something takes the acting admin's id and records an AuditEvent. Callers (pages,
routes) check that the actor is an admin; this service trusts its caller, like the rest of the core.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nanogen.accounts.guard import SessionAuth
from nanogen.accounts.users import UserService
from nanogen.config import Settings
from nanogen.csvfile import csv_lines
from nanogen.db import Database
from nanogen.errors import InvalidInput, NanogenError, NotFound, ProviderError
from nanogen.generation.budget import WARN_RATIO, BudgetService, usd
from nanogen.generation.service import GenerationService
from nanogen.images.storage import Storage
from nanogen.library.deletes import remove_in
from nanogen.library.service import Library
from nanogen.models import UNFINISHED, AuditEvent, Image, Prompt, Status, User, utcnow
from nanogen.ops.export import export_zip
from nanogen.provider.client import NanobananaClient
from nanogen.spend import in_month, month_bounds, month_spend_per_user, month_suspect_submits, team_month_spend

log = logging.getLogger(__name__)
MAX_BUDGET = Decimal('1000000')
CREDIT_TIMEOUT_S = 5.0
CREDIT_CACHE_S = 30.0


@dataclass(frozen=True)
class UserUsage:
    id: int
    email: str
    name: str
    is_admin: bool
    disabled: bool
    budget_override: Decimal | None  # None: the default from settings
    limit: Decimal | None  # None: unlimited
    spent: Decimal  # this month, reservations included
    generations: int  # this month
    failed: int  # this month
    last_activity: datetime | None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.generations if self.generations else None

    @property
    def near_limit(self) -> bool:
        return self.limit is not None and self.spent >= self.limit * WARN_RATIO


@dataclass(frozen=True)
class InFlight:
    prompt_id: int
    user_id: int
    email: str
    status: str
    prompt: str
    since: datetime
    stuck: bool


@dataclass(frozen=True)
class FailureGroup:
    message: str
    count: int
    last_at: datetime | None


@dataclass(frozen=True)
class BillingMismatch:
    """A prompt the provider billed as another model or resolution than we estimated (its operationType)."""

    prompt_id: int
    email: str
    asked: str  # e.g. 'nanobanana-2 1K'
    billed: str  # the operationType, e.g. 'nano-banana-2_4k'
    estimated_cost: Decimal
    cost: Decimal
    at: datetime


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


def parse_budget(text: str | Decimal | None) -> Decimal | None:
    """'' or None: back to the default; otherwise dollars, 0 meaning unlimited."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        value = Decimal(str(text).strip().lstrip('$'))
    except InvalidOperation:
        raise InvalidInput('Enter a budget in dollars, like 25 or 12.50 (0 means unlimited; empty means the '
                           'default).', field='budget') from None
    if not value.is_finite() or value < 0:
        raise InvalidInput('A budget cannot be negative.', field='budget')
    if value > MAX_BUDGET:
        raise InvalidInput(f'A budget above {usd(MAX_BUDGET)} a month is surely a typo.', field='budget')
    return value.quantize(Decimal('0.01'))


class AdminService:
    def __init__(self, *, db: Database, settings: Settings, storage: Storage, users: UserService, auth: SessionAuth,
                 generation: GenerationService, client: NanobananaClient, budget: BudgetService, library: Library,
                 clock: Callable[[], datetime] = utcnow, stuck_minutes: int = 10) -> None:
        self.db, self.settings, self.storage = db, settings, storage
        self.users, self.auth, self.generation, self.client, self.budget = users, auth, generation, client, budget
        self.library = library
        self.clock = clock
        self.stuck_minutes = stuck_minutes
        self._credits: tuple[float, float | None] | None = None  # (monotonic time, amount) of the last reading

    # ------------------------------------------------------------------ reading
    async def users_overview(self) -> list[UserUsage]:
        now = self.clock()
        failed = sa.case((col(Prompt.status) == Status.FAILED.value, 1), else_=0)

        def work(s: Session) -> list[UserUsage]:
            month = {r[0]: r for r in s.exec(
                select(Prompt.user_id, func.count(), func.sum(failed))
                .where(*in_month(*month_bounds(now))).group_by(col(Prompt.user_id))).all()}
            spend = month_spend_per_user(s, now)
            last = dict(s.exec(select(Prompt.user_id, func.max(Prompt.created_at))
                               .group_by(col(Prompt.user_id))).all())
            rows = []
            for user in s.exec(select(User).order_by(col(User.email))):
                assert user.id is not None
                _, count, fails = month.get(user.id, (user.id, 0, 0))
                seen = [t for t in (last.get(user.id), user.last_seen_at) if t is not None]
                rows.append(UserUsage(id=user.id, email=user.email, name=user.name, is_admin=user.is_admin,
                                      disabled=user.disabled, budget_override=user.monthly_budget,
                                      limit=self.budget.limit_for(user), spent=spend.get(user.id, Decimal(0)),
                                      generations=int(count or 0), failed=int(fails or 0),
                                      last_activity=max(seen) if seen else None))
            return rows
        return await self.db.run(work)

    async def team_spend(self) -> tuple[Decimal, Decimal | None]:
        now = self.clock()
        return await self.db.run(lambda s: team_month_spend(s, now)), self.budget.team_cap

    async def suspect_submits(self) -> tuple[int, int]:
        """(prompts, resubmits) this month that may have been billed twice (see `month_suspect_submits`)."""
        now = self.clock()
        return await self.db.run(lambda s: month_suspect_submits(s, now))

    async def credits(self) -> float | None:
        """The provider's remaining credits, or None when it cannot say right now (the page shows that).
        Cached for CREDIT_CACHE_S, failures too: page loads and /admin/status never hammer the provider."""
        now = time.monotonic()
        if self._credits is not None and now - self._credits[0] < CREDIT_CACHE_S:
            return self._credits[1]
        try:
            amount: float | None = await asyncio.wait_for(self.client.credit(), timeout=CREDIT_TIMEOUT_S)
        except (ProviderError, TimeoutError) as exc:
            log.warning('could not read the provider credit balance: %s', getattr(exc, 'user_message', 'timeout'))
            amount = None
        self._credits = (time.monotonic(), amount)
        return amount

    async def in_flight(self) -> list[InFlight]:
        stuck_before = self.clock() - timedelta(minutes=self.stuck_minutes)

        def work(s: Session) -> list[InFlight]:
            rows = s.exec(select(Prompt, User.email).join(User, col(User.id) == Prompt.user_id)
                          .where(col(Prompt.status).in_(UNFINISHED)).order_by(col(Prompt.created_at))).all()
            out = []
            for p, email in rows:
                assert p.id is not None
                since = p.submitted_at or p.created_at
                out.append(InFlight(prompt_id=p.id, user_id=p.user_id, email=email, status=p.status,
                                    prompt=p.prompt[:120], since=since,
                                    stuck=p.status == Status.PROCESSING.value and since < stuck_before))
            return out
        return await self.db.run(work)

    async def failures(self, *, days: int = 30, limit: int = 20) -> list[FailureGroup]:
        since = self.clock() - timedelta(days=days)
        count = func.count().label('n')

        def work(s: Session) -> list[FailureGroup]:
            rows = s.exec(select(Prompt.error_message, count, func.max(Prompt.created_at))
                          .where(col(Prompt.status) == Status.FAILED.value, col(Prompt.created_at) >= since)
                          .group_by(col(Prompt.error_message)).order_by(count.desc()).limit(limit)).all()
            return [FailureGroup(message=m or '(no message)', count=int(n), last_at=t) for m, n, t in rows]
        return await self.db.run(work)

    async def billing_mismatches(self, *, days: int = 30, limit: int = 20) -> list[BillingMismatch]:
        """The newest prompts whose billed model/resolution differed from the estimate."""
        since = self.clock() - timedelta(days=days)

        def work(s: Session) -> list[BillingMismatch]:
            rows = s.exec(select(Prompt, User.email).join(User, col(User.id) == Prompt.user_id)
                          .where(col(Prompt.billing_mismatch).is_(True), col(Prompt.created_at) >= since)
                          .order_by(col(Prompt.created_at).desc()).limit(limit)).all()
            return [BillingMismatch(prompt_id=p.id or 0, email=email, billed=p.billed_operation or '',
                                    asked=f'{p.model} {p.resolution or f"{p.image_size}px"}',
                                    estimated_cost=p.estimated_cost, cost=p.cost, at=p.created_at) for p, email in rows]
        return await self.db.run(work)

    async def recent_actions(self, limit: int = 20) -> list[AuditEntry]:
        def work(s: Session) -> list[AuditEntry]:
            rows = s.exec(select(AuditEvent, User.email).join(User, col(User.id) == AuditEvent.actor_id, isouter=True)
                          .order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc()).limit(limit)).all()
            return [AuditEntry(at=e.created_at, actor=email or 'system', action=e.action, target=e.target,
                               detail=e.detail) for e, email in rows]
        return await self.db.run(work)

    async def usage_csv(self) -> str:
        """Usage per user per UTC month, newest month first: generations, outcomes, images and cost."""
        def work(s: Session) -> list[Any]:
            return list(s.execute(sa.select(col(Prompt.user_id), col(User.email), col(Prompt.created_at),
                                            col(Prompt.status), col(Prompt.num_images), col(Prompt.cost))
                                  .join(User, col(User.id) == col(Prompt.user_id))).all())
        rows = await self.db.run(work)
        groups: dict[tuple[str, int], dict[str, Any]] = {}
        for user_id, email, created, status, num_images, cost in rows:
            g = groups.setdefault((created.strftime('%Y-%m'), user_id), {
                'email': email, 'generations': 0, 'completed': 0, 'failed': 0, 'cancelled': 0, 'images': 0,
                'cost': Decimal(0)})
            g['generations'] += 1
            if status in ('COMPLETED', 'FAILED', 'CANCELLED'):
                g[status.lower()] += 1
            if status == 'COMPLETED':
                g['images'] += num_images
            g['cost'] += Decimal(str(cost or 0))
        header = ['month', 'user_id', 'email', 'generations', 'completed', 'failed', 'cancelled', 'images', 'cost_usd']
        return csv_lines([header] + [
            [month, user_id, g['email'], g['generations'], g['completed'], g['failed'], g['cancelled'], g['images'],
             f"{g['cost']:.4f}"]
            for (month, user_id), g in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1]), reverse=True)])

    # ------------------------------------------------------------------ actions (each one audited)
    async def record(self, actor_id: int | None, action: str, target: str = '', detail: str = '') -> None:
        def work(s: Session) -> None:
            s.add(AuditEvent(actor_id=actor_id, action=action, target=target[:255], detail=detail,
                             created_at=self.clock()))
            s.commit()
        await self.db.write(work)
        log.info('admin %s: %s %s', actor_id, action, target)

    async def _user(self, user_id: int) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound('That user does not exist.')
        return user

    async def set_budget(self, actor_id: int, user_id: int, value: str | Decimal | None) -> Decimal | None:
        budget = parse_budget(value)
        await self._user(user_id)

        def work(s: Session) -> tuple[str, Decimal | None]:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound('That user does not exist.')
            before = user.monthly_budget
            user.monthly_budget = budget
            s.add(user)
            s.commit()
            return user.email, before
        email, before = await self.db.write(work)
        self.auth.forget(user_id)

        def show(v: Decimal | None) -> str:
            return 'default' if v is None else ('unlimited' if v == 0 else usd(v))
        await self.record(actor_id, 'user.budget', f'user:{user_id} {email}', f'{show(before)} -> {show(budget)}')
        return budget

    async def set_disabled(self, actor_id: int, user_id: int, disabled: bool) -> None:
        if disabled and actor_id == user_id:
            raise InvalidInput('You cannot disable your own account.', field='user')
        user = await self.users.set_disabled(user_id, disabled)
        if user is None:
            raise NotFound('That user does not exist.')
        self.auth.forget(user_id)  # the session cache must not keep a disabled user in
        await self.record(actor_id, 'user.disable' if disabled else 'user.enable', f'user:{user_id} {user.email}')

    async def set_admin(self, actor_id: int, user_id: int, admin: bool) -> None:
        """Promote or demote (issue 11, finding 10). A promoted admin stays one until demoted here; someone listed in
        NANOGEN_ADMIN_EMAILS is demoted by editing the list; the last admin cannot be demoted."""
        listed = set(self.settings.admin_email_list)

        def work(s: Session) -> str:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound('That user does not exist.')
            if not admin and user.is_admin:
                if user.email in listed:
                    raise InvalidInput(f'{user.email} is listed in NANOGEN_ADMIN_EMAILS: remove them there.',
                                       field='user')
                # FOR UPDATE (PostgreSQL; SQLite's write lock already serialises): two admins demoting each other at
                # once cannot both succeed.
                admins = s.exec(select(User.id).where(User.is_admin, ~col(User.disabled)).with_for_update()).all()
                if not [a for a in admins if a != user_id]:
                    raise InvalidInput('That would leave no admin: promote someone else first.', field='user')
            user.is_admin, user.admin_source = admin, 'manual' if admin else ''
            s.add(user)
            s.commit()
            return user.email
        email = await self.db.write(work)
        self.users.changed(user_id)  # drops cached sessions and tells their open tabs
        await self.record(actor_id, 'user.promote' if admin else 'user.demote', f'user:{user_id} {email}')

    async def cancel(self, actor_id: int, prompt_id: int) -> None:
        prompt = await self.db.run(lambda s: s.get(Prompt, prompt_id))
        if prompt is None:
            raise NotFound('That generation does not exist.')
        await self.generation.cancel(prompt.user_id, prompt_id)

        def note(s: Session) -> None:
            row = s.get(Prompt, prompt_id)
            if row is not None and row.status == Status.CANCELLED.value:
                row.error_message = 'Cancelled by an admin.'
                s.add(row)
                s.commit()
        await self.db.write(note)
        await self.record(actor_id, 'generation.cancel', f'prompt:{prompt_id}', f'owner user:{prompt.user_id}')

    async def export_user(self, actor_id: int, user_id: int) -> tuple[str, AsyncIterator[bytes]]:
        """A streamed zip of the user's prompts (JSON) and image files; a file the store cannot give is listed as
        missing. NotFound (unknown user) is raised here, before any byte is sent."""
        user = await self._user(user_id)

        def work(s: Session) -> tuple[list[Prompt], list[Image]]:
            return (list(s.exec(select(Prompt).where(col(Prompt.user_id) == user_id).order_by(col(Prompt.id)))),
                    list(s.exec(select(Image).where(col(Image.user_id) == user_id).order_by(col(Image.id)))))
        prompts, images = await self.db.run(work)
        await self.record(actor_id, 'user.export', f'user:{user_id} {user.email}',
                          f'{len(prompts)} prompts, {2 * len(images)} files')
        return f'nanogen-user-{user_id}.zip', export_zip(self.storage, user, prompts, images)

    async def delete_user(self, actor_id: int, user_id: int) -> None:
        """Cancel their jobs, delete their images and objects (the library's one delete path), then the user (prompts,
        tokens cascade)."""
        if actor_id == user_id:
            raise InvalidInput('You cannot delete your own account here.', field='user')
        user = await self._user(user_id)
        for job in [j for j in await self.in_flight() if j.user_id == user_id]:
            try:
                await self.generation.cancel(user_id, job.prompt_id)
            except NanogenError:
                pass  # it ended meanwhile
        removed = await self.library.delete_all_of(user_id)  # the library's one delete path, no undo

        def remove(s: Session) -> None:
            # Unlink the prompt -> image pointers first: the two tables point at each other.
            s.execute(sa.update(Prompt).where(col(Prompt.user_id) == user_id).values(image_id=None))
            remove_in(s, col(Image.user_id) == user_id)  # any row made since: objects queued, not left behind
            s.execute(sa.delete(Prompt).where(col(Prompt.user_id) == user_id))
            row = s.get(User, user_id)
            if row is not None:
                s.delete(row)
            s.commit()
        await self.db.write(remove)
        self.users.changed(user_id)  # drops cached sessions and tells their open tabs
        await self.record(actor_id, 'user.delete', f'user:{user_id} {user.email}', f'{removed} objects removed')
