"""Drill: kill -9 of the app mid-batch; after a restart the running batch carries on from where it was (every row
submitted exactly once) and the paused one stays paused with nothing of it submitted. State lives only in the rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.models import Batch, BatchRow, Prompt, Status, User
from tests.drills.app_process import AppProcess, against_fake, wait_rows
from tests.drills.conftest import DRILL_PROMPT, assert_costs, assert_not_double_billed

RUNNING_ROWS, PAUSED_ROWS = 12, 3


def rows_of(db: Database, batch_id: int) -> list[Prompt]:
    with db.session() as s:
        return list(s.exec(select(Prompt).join(BatchRow, col(BatchRow.prompt_id) == col(Prompt.id))
                           .where(col(BatchRow.batch_id) == batch_id).order_by(col(BatchRow.row_number))))


def batch_status(db: Database, batch_id: int) -> str:
    with db.session() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None
        return batch.status


def wait_for(db: Database, batch_id: int, done: Callable[[list[Prompt]], bool], timeout: float,
             app: AppProcess) -> list[Prompt]:
    return wait_rows(lambda: rows_of(db, batch_id), done, timeout, app, lambda r: (r.id, r.status))


def seed(db: Database) -> tuple[int, int]:
    """A running and a paused batch, their rows QUEUED, as the batch service records them."""
    with db.session() as s:
        user = User(subject='local:batch-kill@example.com', email='batch-kill@example.com', name='Batch')
        s.add(user)
        s.flush()
        ids = []
        for status, count in (('RUNNING', RUNNING_ROWS), ('PAUSED', PAUSED_ROWS)):
            batch = Batch(user_id=user.id, name=f'{status.lower()} batch', source='lines', status=status,  # type: ignore[arg-type]
                          total_rows=count, estimated_cost=Decimal('0.005') * count)
            s.add(batch)
            s.flush()
            prompts = [Prompt(user_id=user.id, prompt=DRILL_PROMPT, image_size=512, status=Status.QUEUED.value,  # type: ignore[arg-type]
                              estimated_cost=Decimal('0.005')) for _ in range(count)]
            s.add_all(prompts)
            s.flush()
            s.add_all([BatchRow(batch_id=batch.id, row_number=n, prompt_id=p.id)  # type: ignore[arg-type]
                       for n, p in enumerate(prompts, 1)])
            ids.append(batch.id)
        s.commit()
        return ids[0], ids[1]  # type: ignore[return-value]


@pytest.fixture
def app_process(fake, isolated_env: Path) -> Iterator[AppProcess]:
    _provider, url = fake
    app = against_fake(isolated_env / 'app', url, NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.4,
                       NANOGEN_BATCH_CONCURRENCY=4)
    yield app
    app.stop()


def test_kill_9_mid_batch_then_restart_carries_on_without_resubmitting(fake, app_process) -> None:
    provider, _url = fake
    provider.config.latency_s, provider.config.send_callbacks = 1.2, False
    db = Database(f'sqlite:///{app_process.data_dir / "nanogen.db"}')
    db.migrate()
    running, paused = seed(db)

    app_process.start()
    # Kill once the first 4 rows are done and the next ones all submitted (none PENDING): no submit is in the air,
    # and none starts before the kill (the next ones end about a second later). A kill during a submit is another matter: the
    # app cannot know whether the provider took it, so it resubmits and says so (suspect_submits, counted in the cost).
    wait_for(db, running, lambda rows: sum(r.status == Status.COMPLETED.value for r in rows) >= 4
             and any(r.status == Status.PROCESSING.value for r in rows)
             and not any(r.status == Status.PENDING.value for r in rows), 40, app_process)
    app_process.kill9()
    at_kill = rows_of(db, running)
    started = [r for r in at_kill if r.status != Status.QUEUED.value]
    assert any(r.status == Status.QUEUED.value for r in at_kill), 'the batch ended before the kill: no drill'
    assert len(started) <= 4 + sum(r.status == Status.COMPLETED.value for r in at_kill)  # fed a few at a time
    assert provider.submissions <= len(started)
    assert all(r.status == Status.QUEUED.value for r in rows_of(db, paused))

    app_process.start()  # the feeder and the steps carry on from the rows
    rows = wait_for(db, running, lambda rows: all(Status(r.status).finished for r in rows), 60, app_process)

    assert [r.status for r in rows] == [Status.COMPLETED.value] * RUNNING_ROWS, [r.error_message for r in rows]
    assert provider.submissions == RUNNING_ROWS  # every row once: none lost, none submitted twice
    secret_key = (app_process.data_dir / 'secret_key').read_text().strip()
    assert_not_double_billed(secret_key, provider, rows)
    assert_costs(Settings(), rows)
    assert sum(r.suspect_submits for r in rows) == 0
    assert all(r.provider_task_id is None and r.status == Status.QUEUED.value for r in rows_of(db, paused))
    assert batch_status(db, paused) == 'PAUSED'
    wait_rows(lambda: [batch_status(db, running)], lambda s: s == ['DONE'], 10, app_process)  # the feeder's next pass
    db.dispose()
