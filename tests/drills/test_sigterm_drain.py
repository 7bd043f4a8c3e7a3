"""Drill: SIGTERM to a real `python app.py` while submits are in the air (a rolling deploy's stop). The worker takes
no new job from that moment, the submits in flight end and their task ids are saved within NANOGEN_SHUTDOWN_GRACE,
`/readyz` answers 503 draining meanwhile, and after a restart every prompt completes, none submitted twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.generation.engine import apply_schema
from nanogen.models import Prompt, Status, User
from tests.drills.app_process import AppProcess, wait_rows
from tests.drills.conftest import DRILL_PROMPT, assert_not_double_billed

GENERATIONS = 8
WORKERS = 3  # steps one process runs at once: the rest wait in the queue when SIGTERM comes
GRACE_S = 12.0
HANG_S = 2.0  # every provider request is in the air this long
SECRET = 'drain-drill-secret-0123456789abcdef'


@pytest.fixture(params=['sqlite', 'postgres'])
def database(request: pytest.FixtureRequest, isolated_env: Path) -> Iterator[str]:
    if request.param == 'sqlite':
        yield f'sqlite:///{isolated_env / "drain.db"}'
    else:
        yield request.getfixturevalue('postgres_url')


def seed(db: Database) -> None:
    """PENDING rows with no job yet: the replica's resume sweep queues them at start."""
    db.migrate()
    apply_schema(db)
    with db.session() as s:
        user = User(subject='local:drain@example.com', email='drain@example.com', name='Drain')
        s.add(user)
        s.flush()
        s.add_all([Prompt(user_id=user.id, prompt=DRILL_PROMPT, image_size=512, status=Status.PENDING.value,
                          estimated_cost=Decimal('0.005')) for _ in range(GENERATIONS)])
        s.commit()


def rows_of(db: Database) -> list[Prompt]:
    with Session(db.engine) as s:
        return list(s.exec(select(Prompt).order_by(col(Prompt.id))))


def test_sigterm_drains_in_flight_submits_and_takes_no_new_job(fake, isolated_env: Path, database: str) -> None:
    provider, url = fake
    provider.config.timeout_rate, provider.config.hang_s = 1.0, HANG_S
    provider.config.send_callbacks = False
    db = Database(database)
    seed(db)
    app = AppProcess(isolated_env / 'app', NANOBANANA_API_KEY='test-key-123456', NANOBANANA_BASE_URL=url,
                     NANOGEN_DATABASE_URL=database, NANOGEN_SECRET_KEY=SECRET, NANOGEN_SHUTDOWN_GRACE=GRACE_S,
                     NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.5, NANOGEN_PROVIDER_TIMEOUT=10,
                     NANOGEN_WORKER_CONCURRENCY=WORKERS, NANOGEN_PROVIDER_CONCURRENCY=GENERATIONS,
                     NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS)
    try:
        app.start()
        in_flight = wait_rows(lambda: rows_of(db), lambda rows: sum(r.submit_attempts for r in rows) >= 2,
                              timeout=30, app=app, describe=lambda r: (r.id, r.status, r.submit_attempts))
        assert not any(r.provider_task_id for r in in_flight)  # requests in the air, none answered yet
        assert app.proc is not None
        signalled = time.monotonic()
        app.proc.send_signal(signal.SIGTERM)

        said: list[tuple[int, str]] = []  # what /readyz answered while the process drained
        began: set[int | None] | None = None  # the submits begun by the time the signal has surely landed
        while app.proc.poll() is None and time.monotonic() - signalled < GRACE_S + 10:
            if began is None and time.monotonic() - signalled > 0.5:
                began = {r.id for r in rows_of(db) if r.submit_attempts}
            try:
                answer = httpx.get(f'{app.url}/readyz', timeout=1)
                said.append((answer.status_code, answer.json().get('data', {}).get('status', '')))
            except httpx.HTTPError:
                pass  # the server has stopped listening: it is exiting
            time.sleep(0.05)
        assert app.proc.wait(timeout=10) is not None
        took = time.monotonic() - signalled
        assert took < GRACE_S, f'the drain took {took:.1f} s, over the grace: {app.log_tail()}'
        assert said and all(answer == (503, 'draining') for answer in said), said

        stopped = {r.id: r for r in rows_of(db)}
        attempted = [r for r in stopped.values() if r.submit_attempts]
        assert began is not None and {r.id for r in attempted} == began, 'the worker took new submits after SIGTERM'
        for row in attempted:  # the submits in flight ended and their task ids were saved: nothing to resubmit
            assert row.status == Status.PROCESSING.value and row.provider_task_id, (row.id, row.status)
        assert provider.submissions == len(attempted)

        provider.config.timeout_rate = 0.0
        app.start()
        rows = wait_rows(lambda: rows_of(db), lambda rows: all(Status(r.status).finished for r in rows),
                         timeout=60, app=app, describe=lambda r: (r.id, r.status))
        assert all(r.status == Status.COMPLETED.value for r in rows), [(r.id, r.error_message) for r in rows]
        assert all(r.submit_attempts == 1 and r.suspect_submits == 0 for r in rows)
        assert provider.submissions == GENERATIONS
        assert_not_double_billed(SECRET, provider, rows)
    finally:
        app.stop()
        db.dispose()
