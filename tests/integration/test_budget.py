"""Budgets against real databases and the contract fake over HTTP: atomic under concurrency, monthly, per user, team."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import BudgetExceeded
from nanogen.generation.budget import BudgetService, usd
from nanogen.generation.requests import validate_request
from nanogen.models import Prompt, User
from nanogen.spend import month_bounds, spend_in
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status

ONE = Decimal('0.0125')  # one 1024 px image at the default price


async def test_twenty_parallel_requests_against_a_budget_for_five_make_exactly_five(
        database_url: str, fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url,
                                                 NANOGEN_MONTHLY_BUDGET=str(ONE * 5),
                                                 NANOGEN_MAX_CONCURRENT_PER_USER=50))
    uid = await add_user(services)
    req = validate_request(prompt='a tiny robot watering plants')
    results = await asyncio.gather(*(services.generation.create(uid, req) for _ in range(20)),
                                   return_exceptions=True)
    created = [r for r in results if isinstance(r, Prompt)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(created) == 5 and len(refused) == 15, results
    assert refused[0].http_status == 402  # the API edge turns it into a 402 JSON error
    for p in created:
        done = await wait_status(services, p.id, {'COMPLETED', 'FAILED'})
        assert done.status == 'COMPLETED', done.error_message
    assert provider.submissions == 5
    status = await services.budget.remaining(uid)
    assert status.remaining == 0 and status.spent == ONE * 5


async def test_refusal_says_what_is_left_and_what_it_costs(fake, make_services, isolated_env: Path) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_MONTHLY_BUDGET='0.02'))
    uid = await add_user(services)
    await services.generation.create(uid, validate_request(prompt='a cat in a hat'))
    with pytest.raises(BudgetExceeded) as info:
        await services.generation.create(uid, validate_request(prompt='a dog in a hat'))
    assert info.value.user_message == ('Your monthly budget of $0.0200 is spent ($0.0075 left; this costs $0.0125). '
                                       'Ask an admin to raise it.')
    prompts = await services.library.recent_prompts(uid)
    assert [p.prompt for p in prompts] == ['a cat in a hat']  # nothing recorded for the refused one


async def test_per_user_override_beats_the_default(database_url: str, fake, make_services, isolated_env: Path) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_MONTHLY_BUDGET=str(ONE)))
    ada = await add_user(services, 'ada@example.com')  # first user: admin on a dev install
    bob = await add_user(services, 'bob@example.com')
    req = validate_request(prompt='a lighthouse in fog')
    await services.generation.create(bob, req)
    with pytest.raises(BudgetExceeded):
        await services.generation.create(bob, req)
    await services.admin.set_budget(ada, bob, '0.05')
    for _ in range(3):
        await services.generation.create(bob, req)
    with pytest.raises(BudgetExceeded):
        await services.generation.create(bob, req)
    await services.admin.set_budget(ada, bob, '0')  # 0: unlimited for this user
    await services.generation.create(bob, req)
    await services.generation.create(ada, req)  # ada still has the default: one image
    with pytest.raises(BudgetExceeded):
        await services.generation.create(ada, req)


async def test_team_cap_stops_everyone(database_url: str, fake, make_services, isolated_env: Path) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url,
                                                 NANOGEN_TEAM_MONTHLY_CAP=str(ONE * 2)))
    ada = await add_user(services, 'ada@example.com')
    bob = await add_user(services, 'bob@example.com')
    req = validate_request(prompt='a lighthouse in fog')
    await services.generation.create(ada, req)
    await services.generation.create(bob, req)
    with pytest.raises(BudgetExceeded) as info:
        await services.generation.create(ada, req)
    assert "team's monthly cap of $0.0250 is spent ($0.00 left" in info.value.user_message
    status = await services.budget.remaining(bob)
    assert status.limit is None and status.remaining == 0


def _db_with_user(url: str) -> tuple[Database, int]:
    db = Database(url)
    db.migrate()
    with db.session() as s:
        user = User(subject='local:ada@example.com', email='ada@example.com')
        s.add(user)
        s.commit()
        assert user.id is not None
        return db, user.id


def _add_prompt(s: Session, user_id: int, *, at: datetime, status: str, estimate: str, cost: str = '0') -> None:
    s.add(Prompt(user_id=user_id, prompt='p', status=status, estimated_cost=Decimal(estimate), cost=Decimal(cost),
                 created_at=at, updated_at=at))
    s.commit()


def test_month_rolls_over_at_midnight_utc(database_url: str) -> None:
    db, uid = _db_with_user(database_url)
    october = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
    with db.session() as s:
        _add_prompt(s, uid, at=october, status='COMPLETED', estimate='1.00', cost='1.00')
    now = october
    budget = BudgetService(db, Settings(NANOGEN_MONTHLY_BUDGET='1.00'), clock=lambda: now)  # type: ignore[call-arg]
    try:
        with db.session() as s, pytest.raises(BudgetExceeded):
            budget.check(s, uid, ONE)
        now = datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
        with db.session() as s:
            budget.check(s, uid, ONE)  # a new month: the budget is whole again
        assert month_bounds(datetime(2026, 12, 15, tzinfo=UTC)) == (datetime(2026, 12, 1, tzinfo=UTC),
                                                                    datetime(2027, 1, 1, tzinfo=UTC))
    finally:
        db.dispose()


def test_spend_counts_reservations_costs_and_billed_failures_only(database_url: str) -> None:
    db, uid = _db_with_user(database_url)
    at = datetime(2026, 11, 10, tzinfo=UTC)
    try:
        with db.session() as s:
            _add_prompt(s, uid, at=at, status='PENDING', estimate='0.10')  # reserved: counts its estimate
            _add_prompt(s, uid, at=at, status='PROCESSING', estimate='0.20')
            _add_prompt(s, uid, at=at, status='COMPLETED', estimate='0.40', cost='0.30')  # counts what it cost
            _add_prompt(s, uid, at=at, status='FAILED', estimate='1.00', cost='0')  # not billed: free
            _add_prompt(s, uid, at=at, status='FAILED', estimate='0.05', cost='0.05')  # billed by the provider
            _add_prompt(s, uid, at=at, status='CANCELLED', estimate='2.00', cost='0')  # cancelled before submit
            start, end = month_bounds(at)
            assert spend_in(s, start, end, uid) == Decimal('0.65')
    finally:
        db.dispose()


async def test_eighty_percent_warns_once_per_user_per_month(fake, make_services, isolated_env: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_MONTHLY_BUDGET=str(ONE * 5),
                                                 NANOGEN_MAX_CONCURRENT_PER_USER=50))
    uid = await add_user(services)
    req = validate_request(prompt='a quiet harbour')
    caplog.set_level(logging.WARNING, logger='nanogen.generation.budget')
    for n in range(5):
        await services.generation.create(uid, req)
        warnings = [r for r in caplog.records if r.name == 'nanogen.generation.budget' and 'of their monthly budget' in
                    r.getMessage()]
        assert len(warnings) == (1 if n >= 3 else 0), n  # 4 of 5 images is 80 %
    assert f'user {uid} has used 80% of their monthly budget of {usd(ONE * 5)}' in warnings[0].getMessage()


async def test_costs_follow_configured_prices_and_billed_failures_count(fake, make_services, isolated_env: Path) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                                                 NANOGEN_PRICE_512='0.02', NANOGEN_MONTHLY_BUDGET='1'))
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='three small boats', size=512,
                                                                    num_images=3))
    assert prompt.estimated_cost == Decimal('0.06')
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED' and done.cost == Decimal('0.06')

    # The provider made (and billed) the image, but it is too large to accept: the attempt still costs.
    services.settings.download_max_bytes = 100
    billed = await wait_status(services, (await services.generation.create(
        uid, validate_request(prompt='one huge boat', size=512))).id, {'COMPLETED', 'FAILED'})
    assert billed.status == 'FAILED' and billed.cost == Decimal('0.02')
    assert 'billed' in (billed.error_message or '')
    status = await services.budget.remaining(uid)
    assert status.spent == Decimal('0.08') and status.remaining == Decimal('0.92')


async def test_twenty_users_at_once_against_a_team_cap_for_five_make_exactly_five(
        database_url: str, fake, make_services, isolated_env: Path) -> None:
    """Issue 13 item 4: the team cap holds under concurrency. Twenty different users (so no user row lock
    serialises them; on PostgreSQL only the team-cap advisory lock does) submit at the same moment against a team cap
    of five images: exactly five are recorded and submitted, and the team's spend is exactly the cap."""
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url,
                                                 NANOGEN_TEAM_MONTHLY_CAP=str(ONE * 5)))
    uids = [await add_user(services, f'user{n}@example.com') for n in range(20)]
    req = validate_request(prompt='a paper boat on a pond')
    results = await asyncio.gather(*(services.generation.create(uid, req) for uid in uids), return_exceptions=True)
    created = [r for r in results if isinstance(r, Prompt)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(created) == 5 and len(refused) == 15, results
    assert all("team's monthly cap" in r.user_message for r in refused)
    for p in created:
        done = await wait_status(services, p.id, {'COMPLETED', 'FAILED'})
        assert done.status == 'COMPLETED', done.error_message
    assert provider.submissions == 5
    status = await services.budget.remaining(uids[0])
    assert status.team_spent == ONE * 5 and status.remaining == 0
