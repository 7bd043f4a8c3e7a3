"""Drill: kill -9 of the app mid-batch; after a restart the running batch carries on from where it was (every row
submitted exactly once) and the paused one (a row of it already done) stays paused with nothing of it submitted, then
resumed after the restart it carries on from its next row. A second drill kills the app while submits are in the air:
nothing is lost, and a row the provider may have got twice is the one whose submit was cut, and says so
(suspect_submits, counted in its cost): nothing is submitted twice silently. State lives only in the rows."""

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
from tests.drills.conftest import DRILL_PROMPT, assert_costs, assert_not_double_billed, task_owner

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
            if status == 'PAUSED':  # paused part-way: its first row had already ended when it was paused
                prompts[0].status, prompts[0].cost = Status.COMPLETED.value, Decimal('0.005')
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
    assert [r.status for r in rows_of(db, paused)] == [Status.COMPLETED.value] + [Status.QUEUED.value] * 2

    app_process.start()  # the feeder and the steps carry on from the rows
    rows = wait_for(db, running, lambda rows: all(Status(r.status).finished for r in rows), 60, app_process)

    assert [r.status for r in rows] == [Status.COMPLETED.value] * RUNNING_ROWS, [r.error_message for r in rows]
    assert provider.submissions == RUNNING_ROWS  # every row once: none lost, none submitted twice
    secret_key = (app_process.data_dir / 'secret_key').read_text().strip()
    assert_not_double_billed(secret_key, provider, rows)
    assert_costs(Settings(), rows)
    assert sum(r.suspect_submits for r in rows) == 0
    assert all(r.provider_task_id is None and r.status == Status.QUEUED.value for r in rows_of(db, paused)[1:])
    assert batch_status(db, paused) == 'PAUSED'
    wait_rows(lambda: [batch_status(db, running)], lambda s: s == ['DONE'], 10, app_process)  # the feeder's next pass

    # Resumed after the restart (Resume sets the status; the feeder's periodic pass picks it up): it carries on from
    # its next row; the row done before the pause is not run again.
    with db.session() as s:
        batch = s.get(Batch, paused)
        assert batch is not None
        batch.status = 'RUNNING'
        s.add(batch)
        s.commit()
    resumed = wait_for(db, paused, lambda rows: all(Status(r.status).finished for r in rows), 30, app_process)
    assert [r.status for r in resumed] == [Status.COMPLETED.value] * PAUSED_ROWS
    assert resumed[0].provider_task_id is None  # done before the kill: untouched
    assert provider.submissions == RUNNING_ROWS + PAUSED_ROWS - 1
    assert_not_double_billed(secret_key, provider, rows + resumed)
    wait_rows(lambda: [batch_status(db, paused)], lambda s: s == ['DONE'], 10, app_process)
    db.dispose()


def test_kill_9_while_batch_rows_are_being_submitted_loses_nothing_and_hides_no_resubmit(fake, app_process) -> None:
    provider, _url = fake
    provider.config.latency_s, provider.config.send_callbacks = 0.5, False
    provider.config.timeout_rate, provider.config.hang_s = 1.0, 1.5  # each submit is in the air for 1.5 s
    db = Database(f'sqlite:///{app_process.data_dir / "nanogen.db"}')
    db.migrate()
    running, _paused = seed(db)

    app_process.start()
    wait_for(db, running, lambda rows: any(r.status == Status.PENDING.value and r.submit_attempts
                                           and not r.provider_task_id for r in rows), 40, app_process)
    app_process.kill9()  # mid-submit: the request has gone, its answer has not come back
    provider.config.timeout_rate = 0.0
    at_kill = rows_of(db, running)
    in_the_air = {r.id for r in at_kill if r.submit_attempts and not r.provider_task_id}
    assert in_the_air, 'no submit was in the air at the kill: no drill'

    app_process.start()
    rows = wait_for(db, running, lambda rows: all(Status(r.status).finished for r in rows), 90, app_process)
    assert [r.status for r in rows] == [Status.COMPLETED.value] * RUNNING_ROWS, [r.error_message for r in rows]
    secret_key = (app_process.data_dir / 'secret_key').read_text().strip()
    owners: dict[int, list[str]] = {}
    for task_id in list(provider.tasks):
        owners.setdefault(task_owner(secret_key, provider, task_id), []).append(task_id)
    for row in rows:
        tasks = len(owners.get(row.id or 0, []))
        if row.id in in_the_air:  # the app cannot know if the provider took the cut request: it says so either way
            assert 1 <= tasks <= 2 and row.suspect_submits >= 1, (row.id, tasks, row.suspect_submits)
            assert row.cost == Settings().price_for(512) + row.estimated_cost * row.suspect_submits  # counted
        else:
            assert tasks == 1, f'row {row.id} was submitted {tasks} times'
    wait_rows(lambda: [batch_status(db, running)], lambda s: s == ['DONE'], 10, app_process)
    db.dispose()
