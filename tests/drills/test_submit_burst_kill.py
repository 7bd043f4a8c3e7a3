"""Drill: kill -9 of a replica in the middle of a submit burst (PostgreSQL): every prompt completes on the other
replica, and any prompt the provider may have billed twice says so (suspect_submits, cost): none silently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.generation.engine import apply_schema
from nanogen.models import Prompt, Status, User
from tests.conftest import make_settings
from tests.drills.app_process import AppProcess
from tests.drills.conftest import DRILL_PROMPT, task_owner
from tests.integration.test_generation import wait_status

GENERATIONS = 20


@pytest.fixture
def replica(fake, isolated_env: Path, postgres_url: str) -> Iterator[AppProcess]:
    _provider, url = fake
    app = AppProcess(isolated_env / 'app', NANOBANANA_API_KEY='test-key-123456', NANOBANANA_BASE_URL=url,
                     NANOGEN_DATABASE_URL=postgres_url, NANOGEN_SECRET_KEY='k' * 8 + 'drill-secret-0123456789abcdef',
                     NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.5, NANOGEN_PROVIDER_TIMEOUT=10,
                     NANOGEN_PROVIDER_CONCURRENCY=GENERATIONS, NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS)
    yield app
    app.stop()


def rows_of(db: Database) -> list[Prompt]:
    with db.session() as s:
        return list(s.exec(select(Prompt).order_by(col(Prompt.id))))


async def test_kill_9_during_a_submit_burst_never_bills_twice_silently(fake, replica, make_services,
                                                                       isolated_env: Path, postgres_url: str) -> None:
    provider, url = fake
    provider.config.timeout_rate, provider.config.hang_s = 1.0, 1.5  # each submit is in the air for 1.5 s
    provider.config.send_callbacks = False
    db = Database(postgres_url)
    db.migrate()
    apply_schema(db)

    def seed(s: Session) -> None:  # PENDING rows with no job yet: the replica's resume sweep queues them at start
        user = User(subject='local:burst@example.com', email='burst@example.com', name='Burst')
        s.add(user)
        s.flush()
        s.add_all([Prompt(user_id=user.id, prompt=DRILL_PROMPT, image_size=512, status=Status.PENDING.value,
                          estimated_cost=Decimal('0.005')) for _ in range(GENERATIONS)])
        s.commit()
    with db.session() as s:
        seed(s)

    await asyncio.to_thread(replica.start)
    deadline = time.monotonic() + 30
    while not all(r.submit_attempts == 1 for r in rows_of(db)):  # every submit attempt recorded, requests in flight
        assert time.monotonic() < deadline, replica.log_tail()
        await asyncio.sleep(0.05)
    replica.kill9()
    provider.config.timeout_rate = 0.0

    survivor = await make_services(make_settings(isolated_env, postgres_url, url, NANOGEN_SECRET_KEY=
                                                 replica.settings['NANOGEN_SECRET_KEY'],
                                                 NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS))
    ids = [r.id for r in rows_of(db)]
    for pid in ids:
        done = await wait_status(survivor, pid, {'COMPLETED', 'FAILED'}, timeout=60)
        assert done.status == Status.COMPLETED.value, done.error_message
    await asyncio.sleep(2.0)  # requests the dead replica had sent are answered (and billed) after it died
    owners: dict[int, list[str]] = {}
    for task_id in list(provider.tasks):
        owners.setdefault(task_owner(replica.settings['NANOGEN_SECRET_KEY'], provider, task_id), []).append(task_id)
    rows = rows_of(db)
    price = survivor.settings.price_for(512)
    for row in rows:
        tasks = len(owners.get(row.id or 0, []))
        assert 1 <= tasks <= 2, (row.id, tasks)
        assert row.suspect_submits >= tasks - 1, f'prompt {row.id} was submitted {tasks} times silently'
        assert row.cost == price * row.num_images + row.estimated_cost * row.suspect_submits  # counted in cost
    assert any(r.suspect_submits for r in rows)  # the drill did hit the window it is about
    db.dispose()
