"""Drill: kill -9 of the app with 50 generations in flight; after a restart all 50 complete, none resent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.models import Prompt, Status, User
from tests.drills.app_process import AppProcess, against_fake, wait_rows
from tests.drills.conftest import DRILL_PROMPT, assert_costs, assert_not_double_billed

GENERATIONS = 50


def statuses(db: Database) -> list[Prompt]:
    with db.session() as s:
        return list(s.exec(select(Prompt).order_by(col(Prompt.id))))


def wait_for(db: Database, done: Callable[[list[Prompt]], bool], timeout: float, app: AppProcess) -> list[Prompt]:
    return wait_rows(lambda: statuses(db), done, timeout, app, lambda r: (r.id, r.status))


@pytest.fixture
def app_process(fake, isolated_env: Path) -> Iterator[AppProcess]:
    _provider, url = fake
    app = against_fake(isolated_env / 'app', url, NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.5,
                       NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS)
    yield app
    app.stop()


def test_kill_9_with_fifty_in_flight_then_restart_completes_all_without_resubmitting(fake, app_process) -> None:
    provider, _url = fake
    provider.config.latency_s, provider.config.send_callbacks = 8.0, False
    db = Database(f'sqlite:///{app_process.data_dir / "nanogen.db"}')
    db.migrate()

    def seed(s: Session) -> None:  # PENDING rows, as the app records them before it submits
        user = User(subject='local:kill@example.com', email='kill@example.com', name='Kill')
        s.add(user)
        s.flush()
        s.add_all([Prompt(user_id=user.id, prompt=DRILL_PROMPT, image_size=512, status=Status.PENDING.value,
                          estimated_cost=Decimal('0.005')) for _ in range(GENERATIONS)])
        s.commit()
    with db.session() as s:
        seed(s)

    app_process.start()
    wait_for(db, lambda rows: all(r.status == Status.PROCESSING.value for r in rows), 30, app_process)
    app_process.kill9()
    assert provider.submissions == GENERATIONS
    assert all(r.status == Status.PROCESSING.value for r in statuses(db))  # killed mid-flight, nothing finished

    app_process.start()  # a restart: the queue (SQLite: re-seeded from the rows) carries on
    rows = wait_for(db, lambda rows: all(Status(r.status).finished for r in rows), 60, app_process)

    assert [r.status for r in rows] == [Status.COMPLETED.value] * GENERATIONS, [r.error_message for r in rows]
    assert provider.submissions == GENERATIONS  # resumed from the saved task ids, never submitted again
    secret_key = (app_process.data_dir / 'secret_key').read_text().strip()
    assert_not_double_billed(secret_key, provider, rows)
    assert_costs(Settings(), rows)
    db.dispose()

