"""The admin service's queries and actions on SQLite and PostgreSQL, with the contract fake over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from nanogen.errors import InvalidInput, NotFound
from nanogen.generation.requests import validate_request
from nanogen.models import AuditEvent, Image, Prompt, User, utcnow
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status


async def test_overview_failures_stuck_jobs_csv_and_delete(database_url: str, fake, make_services,
                                                           isolated_env: Path) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_MONTHLY_BUDGET='0.05'))
    admin = services.admin
    ada = await add_user(services, 'ada@example.com')
    bob = await add_user(services, 'bob@example.com')
    ok = await services.generation.create(bob, validate_request(prompt='a green field'))
    await wait_status(services, ok.id, {'COMPLETED'})
    provider.config.fail_rate = 1.0
    bad = await services.generation.create(bob, validate_request(prompt='a doomed field'))
    await wait_status(services, bad.id, {'FAILED'})
    provider.config.fail_rate, provider.config.latency_s = 0.0, 60.0
    slow = await services.generation.create(bob, validate_request(prompt='a slow field'))
    await wait_status(services, slow.id, {'PROCESSING'})

    rows = {u.email: u for u in await admin.users_overview()}
    b = rows['bob@example.com']
    assert (b.generations, b.failed, b.failure_rate) == (3, 1, pytest.approx(1 / 3))
    assert b.spent == Decimal('0.025') and b.limit == Decimal('0.05') and not b.near_limit
    assert b.last_activity is not None and rows['ada@example.com'].generations == 0

    jobs = await admin.in_flight()
    assert [(j.prompt_id, j.stuck) for j in jobs] == [(slow.id, False)]
    admin.clock = lambda: services.generation.clock() + timedelta(minutes=admin.stuck_minutes + 1)
    assert [j.stuck for j in await admin.in_flight()] == [True]

    groups = await admin.failures()
    assert len(groups) == 1 and groups[0].count == 1 and 'could not generate' in groups[0].message

    await admin.cancel(ada, slow.id)
    cancelled = await services.db.run(lambda s: s.get(Prompt, slow.id))
    assert cancelled.status == 'CANCELLED' and cancelled.error_message == 'Cancelled by an admin.'
    with pytest.raises(NotFound):
        await admin.cancel(ada, 999999)

    csv = (await admin.usage_csv()).splitlines()
    assert csv[1].split(',')[1:] == [str(bob), 'bob@example.com', '3', '1', '1', '1', '1', '0.0250']

    with pytest.raises(InvalidInput):
        await admin.delete_user(ada, ada)  # not yourself
    with pytest.raises(InvalidInput):
        await admin.set_disabled(ada, ada, True)
    keys = await services.db.run(lambda s: [i.key for i in s.exec(select(Image))])
    assert keys and all([await services.storage.exists(k) for k in keys])
    await admin.delete_user(ada, bob)
    assert await services.db.run(lambda s: s.get(User, bob)) is None
    assert await services.db.run(lambda s: list(s.exec(select(Prompt)))) == []
    assert not any([await services.storage.exists(k) for k in keys])
    actions = await services.db.run(lambda s: [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))])
    assert actions == ['generation.cancel', 'user.delete']
    assert [e.action for e in await admin.recent_actions()] == ['user.delete', 'generation.cancel']


FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')  # what a spreadsheet may run as a formula


async def test_usage_csv_neutralises_every_formula_character(database_url: str, fake, make_services,
                                                             isolated_env: Path) -> None:
    """Issue 13 item 4: an email (from an identity provider, so anything) starting with any of = + - @ tab CR comes
    out of usage.csv as text, behind a quote, never as a cell a spreadsheet would run."""
    _, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url))
    emails = [f'{c}cmd|calc{n}@example.com' for n, c in enumerate(FORMULA_STARTS)]

    def seed(s) -> None:  # type: ignore[no-untyped-def]
        for email in emails:
            user = User(subject=f'oidc:{email}', email=email)
            s.add(user)
            s.flush()
            s.add(Prompt(user_id=user.id, prompt='p', status='COMPLETED', created_at=utcnow(), updated_at=utcnow()))
        s.commit()
    await services.db.write(seed)
    table = list(csv.DictReader(io.StringIO(await services.admin.usage_csv())))
    assert sorted(r['email'] for r in table) == sorted("'" + e for e in emails)
