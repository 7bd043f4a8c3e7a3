"""Batches against the contract fake over HTTP, on SQLite and PostgreSQL: whole-batch budget, the fair queue's
limits, pause/resume/cancel/retry, the batch-end hook and reserved spend."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from nanogen.batches.ends import BatchFinished
from nanogen.batches.inputs import from_lines
from nanogen.bootstrap import Services
from nanogen.errors import BudgetExceeded, InvalidInput, NotFound
from nanogen.generation.requests import validate_request
from nanogen.models import UNFINISHED, BatchRow, Prompt
from nanogen.spend import user_month_spend
from tests.conftest import make_settings
from tests.integration.test_generation import add_user
from tests.support.waits import until

ONE = Decimal('0.0125')


def lines(n: int, word: str = 'fox') -> str:
    return '\n'.join(f'a {word} number {i}' for i in range(1, n + 1))


async def batch_in_flight(services: Services, batch_id: int) -> int:
    def work(s) -> int:  # type: ignore[no-untyped-def]
        return int(s.exec(select(func.count()).select_from(BatchRow).join(Prompt, col(Prompt.id) == col(BatchRow.prompt_id))
                          .where(col(BatchRow.batch_id) == batch_id, col(Prompt.status).in_(UNFINISHED))).one())
    return await services.db.run(work)


async def test_batch_runs_to_done_within_its_concurrency_and_calls_the_hook(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_BATCH_CONCURRENCY=2))
    assert services.batches is not None
    finished: list[BatchFinished] = []
    services.batches.on_finished.append(finished.append)
    uid = await add_user(services)
    batch = await services.batches.create(uid, from_lines(lines(6), max_rows=10), name='Foxes', source='lines')
    assert batch.total_rows == 6 and batch.estimated_cost == ONE * 6
    peak = 0

    async def done() -> bool:
        nonlocal peak
        peak = max(peak, await batch_in_flight(services, batch.id))
        return bool(finished)
    await until(done, timeout=40, what='the batch to finish')
    view = await services.batches.get(uid, batch.id)
    assert view.status == 'DONE' and view.counts['done'] == 6 and peak <= 2
    assert [r.row_number for r in view.rows] == [1, 2, 3, 4, 5, 6] and all(r.image_ids for r in view.rows)
    assert finished[0].batch_id == batch.id and finished[0].counts['done'] == 6
    assert provider.submissions == 6  # nothing submitted twice
    prompts = await services.db.run(lambda s: list(s.exec(
        select(Prompt).join(BatchRow, col(BatchRow.prompt_id) == col(Prompt.id))
        .where(col(BatchRow.batch_id) == batch.id).order_by(col(BatchRow.row_number)))))
    # Every row keeps when it was made; the feeder records when it let each go, and its duration counts from there.
    assert {p.created_at for p in prompts} == {view.created_at}
    assert all(p.released_at is not None and p.released_at >= p.created_at for p in prompts)
    assert prompts[-1].released_at > prompts[0].released_at  # two at a time: the last waited for a slot
    for p in prompts:
        assert p.duration_ms == int((p.completed_at - p.released_at).total_seconds() * 1000)
    other = await add_user(services, 'bob@example.com')
    with pytest.raises(NotFound):
        await services.batches.get(other, batch.id)


async def test_whole_batch_budget_refuses_all_saying_how_many_fit_and_queued_rows_reserve(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_MONTHLY_BUDGET=str(ONE * 5)))
    assert services.batches is not None
    uid = await add_user(services)
    with pytest.raises(BudgetExceeded, match='Only 5 of the 8 rows would fit'):
        await services.batches.create(uid, from_lines(lines(8), max_rows=10))
    assert await services.db.run(lambda s: s.exec(select(func.count()).select_from(Prompt)).one()) == 0
    batch = await services.batches.create(uid, from_lines(lines(4), max_rows=10))
    await services.batches.pause(uid, batch.id)
    spent = await services.db.run(lambda s: user_month_spend(s, uid, services.budget.clock()))
    assert spent == ONE * 4  # queued and running rows reserve their estimate
    with pytest.raises(BudgetExceeded):  # the reservation counts against a single prompt too
        await services.generation.create(uid, validate_request(prompt='one more fox', size=1536))


async def test_invalid_rows_submit_nothing(fake, make_services, isolated_env: Path, database_url: str) -> None:
    _, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url))
    assert services.batches is not None
    uid = await add_user(services)
    with pytest.raises(InvalidInput, match='1 of 3 rows have errors'):
        await services.batches.create(uid, from_lines('a fine fox\nno\nanother fine fox', max_rows=10))
    assert await services.db.run(lambda s: s.exec(select(func.count()).select_from(Prompt)).one()) == 0


async def test_pause_resume_cancel_and_single_prompts_are_not_queued_behind(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    provider, url = fake
    provider.config.latency_s = 1.0
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_BATCH_CONCURRENCY=2,
                                                 NANOGEN_MAX_CONCURRENT_PER_USER=3))
    batches = services.batches
    assert batches is not None
    uid = await add_user(services)
    batch = await batches.create(uid, from_lines(lines(10), max_rows=20))
    await until(lambda: _running(services, batch.id, 2), what='two rows running')
    single = await services.generation.create(uid, validate_request(prompt='a single owl'))  # a slot kept free
    assert single.status == 'PENDING'
    paused = await batches.pause(uid, batch.id)
    assert paused.status == 'PAUSED'
    with pytest.raises(InvalidInput, match='Only a running batch'):
        await batches.pause(uid, batch.id)
    await until(lambda: _running(services, batch.id, 0), timeout=30, what='running rows to end while paused')
    view = await batches.get(uid, batch.id)
    assert view.counts['queued'] == 10 - view.counts['done'] - view.counts['failed'] and view.counts['queued'] > 0
    await batches.resume(uid, batch.id)
    await until(lambda: _running(services, batch.id, 1, at_least=True), what='rows running again')
    cancelled = await batches.cancel(uid, batch.id)
    assert cancelled.status == 'CANCELLED' and cancelled.counts['queued'] == 0 and cancelled.counts['cancelled'] > 0


async def _running(services: Services, batch_id: int, n: int, *, at_least: bool = False) -> bool:
    count = await batch_in_flight(services, batch_id)
    return count >= n if at_least else count == n


async def test_retry_failed_rows_queues_new_attempts(fake, make_services, isolated_env: Path,
                                                     database_url: str) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url))
    batches = services.batches
    assert batches is not None
    uid = await add_user(services)
    provider.config.fail_rate = 1.0
    batch = await batches.create(uid, from_lines(lines(3), max_rows=10))
    await until(lambda: _status(services, uid, batch.id, 'DONE'), timeout=30, what='the batch to end')
    assert (await batches.get(uid, batch.id)).counts['failed'] == 3
    provider.config.fail_rate = 0.0
    again = await batches.retry_failed(uid, batch.id)
    assert again.status == 'RUNNING'
    await until(lambda: _status(services, uid, batch.id, 'DONE'), timeout=30, what='the retried batch to end')
    view = await batches.get(uid, batch.id)
    assert view.counts['done'] == 3 and view.counts['failed'] == 0
    with pytest.raises(InvalidInput, match='No row'):
        await batches.retry_failed(uid, batch.id)


async def _status(services: Services, uid: int, batch_id: int, status: str) -> bool:
    assert services.batches is not None
    return (await services.batches.get(uid, batch_id, rows=False)).status == status


async def test_two_users_batches_share_the_slots(fake, make_services, isolated_env: Path, database_url: str) -> None:
    """All batches together get 2 slots here (NANOGEN_WORKER_CONCURRENCY=4): Bob's batch, made after Ada's, runs
    while Ada's still has rows waiting, and neither ever has both slots once the other has work queued."""
    provider, url = fake
    provider.config.latency_s = 0.3
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_BATCH_CONCURRENCY=2,
                                                 NANOGEN_WORKER_CONCURRENCY=4))
    batches = services.batches
    assert batches is not None
    ada, bob = await add_user(services), await add_user(services, 'bob@example.com')
    first = await batches.create(ada, from_lines(lines(4), max_rows=10))
    await until(lambda: _running(services, first.id, 2), what="Ada's batch to take both slots")
    second = await batches.create(bob, from_lines(lines(2, 'owl'), max_rows=10))
    seen_both = False

    async def done() -> bool:
        nonlocal seen_both
        a, b = await batches.get(ada, first.id, rows=False), await batches.get(bob, second.id, rows=False)
        seen_both = seen_both or (a.counts['running'] >= 1 and b.counts['running'] >= 1 and a.counts['queued'] > 0)
        return a.status == b.status == 'DONE'
    await until(done, timeout=40, what='both batches to finish')
    assert seen_both, "Bob's batch never ran beside Ada's"



async def test_the_timeout_sweep_counts_from_a_rows_release_and_leaves_a_grace(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    from datetime import timedelta

    from nanogen.models import utcnow
    _, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_GENERATION_TIMEOUT=60.0))
    uid = await add_user(services)
    hour_ago, now = utcnow() - timedelta(hours=1), utcnow()

    def add(s) -> list[int]:  # type: ignore[no-untyped-def]
        rows = [Prompt(user_id=uid, prompt='released just now', status='PENDING', created_at=hour_ago,
                       released_at=now, updated_at=now),
                Prompt(user_id=uid, prompt='made an hour ago', status='PENDING', created_at=hour_ago,
                       updated_at=hour_ago),
                # Just past its deadline: its own submit step (retrying a 455, say) ends it with the real reason;
                # the sweep waits a grace so it does not race that step with a plain "timed out".
                Prompt(user_id=uid, prompt='its step is still retrying', status='PENDING',
                       created_at=now - timedelta(seconds=65), updated_at=now)]
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows]
    released, stale, retrying = await services.db.write(add)
    assert await services.generation.steps.fail_timed_out() == 1
    rows = {p.id: p for p in await services.db.run(lambda s: list(s.exec(select(Prompt))))}
    assert (rows[released].status, rows[stale].status, rows[retrying].status) == ('PENDING', 'FAILED', 'PENDING')


async def test_previews_and_refusals_do_not_use_up_the_budget_warning(
        fake, make_services, isolated_env: Path, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """The 80 % warning comes from what is submitted: a preview (or the "how many would fit" search of a refused
    batch) neither logs it nor marks it given, so the batch that really starts logs it and writes its audit row."""
    import logging

    from nanogen.models import AuditEvent
    _, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_MONTHLY_BUDGET=str(ONE * 5)))
    batches = services.batches
    assert batches is not None
    uid = await add_user(services)
    caplog.set_level(logging.WARNING, logger='nanogen.generation.budget')

    def warnings() -> int:
        return sum(1 for r in caplog.records if 'of their monthly budget' in r.getMessage())

    async def audit_rows() -> int:
        return len(await services.db.run(lambda s: list(s.exec(
            select(AuditEvent.id).where(col(AuditEvent.action) == 'budget.warning')))))
    four = from_lines(lines(4), max_rows=10)  # 80 % of the budget
    assert await batches.budget_result(uid, await batches.preview(uid, four)) is None
    refused = await batches.budget_result(uid, await batches.preview(uid, from_lines(lines(8), max_rows=10)))
    assert refused is not None and 'Only 5 of the 8 rows would fit' in refused
    with pytest.raises(BudgetExceeded):
        await batches.create(uid, from_lines(lines(8), max_rows=10))
    assert (warnings(), await audit_rows()) == (0, 0)
    await batches.create(uid, four)
    assert (warnings(), await audit_rows()) == (1, 1)
