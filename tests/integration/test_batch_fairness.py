"""The fair queue between users, on SQLite and PostgreSQL: a later user's batch is not starved by an earlier one's,
single prompts skip the queue, and two replicas feeding at once never start a row twice (PostgreSQL).

No worker runs here (the services are not started): rows are promoted by the feeder only, and "a row ends" is written to the
row, so each pass's choice is seen exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col, select

from nanogen.batches.inputs import from_lines
from nanogen.bootstrap import Services
from nanogen.generation.requests import validate_request
from nanogen.models import BatchRow, Prompt, Status
from tests.conftest import make_settings
from tests.integration.test_generation import add_user
from tests.support.waits import until

SLOTS = dict(NANOGEN_BATCH_CONCURRENCY=4, NANOGEN_WORKER_CONCURRENCY=8)  # 4 batch rows at once


def lines(n: int, word: str) -> str:
    return '\n'.join(f'a {word} number {i}' for i in range(1, n + 1))


async def statuses(services: Services, batch_id: int) -> list[str]:
    return await services.db.run(lambda s: [p.status for p in s.exec(
        select(Prompt).join(BatchRow, col(BatchRow.prompt_id) == col(Prompt.id))
        .where(col(BatchRow.batch_id) == batch_id).order_by(col(BatchRow.row_number)))])


async def started(services: Services, batch_id: int) -> int:
    return sum(s != Status.QUEUED.value for s in await statuses(services, batch_id))


async def without_worker(make_services, settings) -> Services:  # type: ignore[no-untyped-def]
    services: Services = await make_services(settings, start=False)
    await asyncio.to_thread(services.migrate)
    return services


async def four_started(services: Services, batch_id: int) -> bool:
    return await started(services, batch_id) == 4


async def end_running_rows(services: Services, batch_id: int) -> None:
    """As if the provider finished every started row of the batch."""
    def work(s) -> None:  # type: ignore[no-untyped-def]
        ids = select(BatchRow.prompt_id).where(col(BatchRow.batch_id) == batch_id)
        s.execute(sa.update(Prompt).where(col(Prompt.id).in_(ids), col(Prompt.status) == Status.PENDING.value)
                  .values(status=Status.COMPLETED.value))
        s.commit()
    await services.db.write(work)


async def test_round_robin_between_users_and_single_prompts_skip_the_queue(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    _provider, url = fake
    services = await without_worker(make_services, make_settings(isolated_env, database_url, url, **SLOTS))
    assert services.batches is not None
    ada, bob = await add_user(services), await add_user(services, 'bob@example.com')
    first = await services.batches.create(ada, from_lines(lines(12, 'fox'), max_rows=20), source='lines')
    await until(lambda: four_started(services, first.id), what="ada's first rows")
    second = await services.batches.create(bob, from_lines(lines(12, 'owl'), max_rows=20), source='lines')
    await services.batches.feeder.feed()
    assert await started(services, second.id) == 0  # all 4 batch slots are ada's: bob's rows wait their turn

    single = await services.generation.create(bob, validate_request(prompt='a single owl', size=512))
    assert single.status == Status.PENDING.value  # never queued behind a batch, though 16 rows wait

    await end_running_rows(services, first.id)  # ada's 4 end: the freed slots go 2 and 2
    await services.batches.feeder.feed()
    assert await statuses(services, first.id) == ['COMPLETED'] * 4 + ['PENDING'] * 2 + ['QUEUED'] * 6
    assert await statuses(services, second.id) == ['PENDING'] * 2 + ['QUEUED'] * 10  # in row order

    await services.batches.pause(ada, first.id)
    await end_running_rows(services, first.id)
    await services.batches.feeder.feed()  # a paused batch starts nothing: bob's takes the room
    assert await started(services, first.id) == 6
    assert await statuses(services, second.id) == ['PENDING'] * 4 + ['QUEUED'] * 8  # its own limit: 4 at once


async def test_two_replicas_feeding_at_once_never_start_a_row_twice(fake, make_services, isolated_env: Path,
                                                                    postgres_url: str) -> None:
    _provider, url = fake
    settings = make_settings(isolated_env, postgres_url, url, NANOGEN_SECRET_KEY='fairness-test-' + 'k' * 32, **SLOTS)
    one = await without_worker(make_services, settings)
    two = await without_worker(make_services, make_settings(isolated_env / 'two', postgres_url, url,
                                            NANOGEN_SECRET_KEY='fairness-test-' + 'k' * 32, **SLOTS))
    assert one.batches is not None and two.batches is not None
    ada = await add_user(one)
    batch = await one.batches.create(ada, from_lines(lines(40, 'fox'), max_rows=40), source='lines')
    await until(lambda: four_started(one, batch.id), what='the first rows')
    for _ in range(3):  # each round: the running rows end, then both replicas feed four times at once
        await end_running_rows(one, batch.id)
        await asyncio.gather(*(replica.batches.feeder.feed() for replica in (one, two) for _ in range(4)))  # type: ignore[union-attr]
        running = (await statuses(one, batch.id)).count(Status.PENDING.value)
        assert running == 4, running  # the batch's limit held across replicas
    jobs = await one.db.run(lambda s: s.execute(sa.text(
        "SELECT count(*), count(DISTINCT args->>'prompt_id') FROM procrastinate_jobs "
        "WHERE task_name = 'nanogen.submit'")).one())
    assert jobs[0] == jobs[1] == await started(one, batch.id) == 16  # one submit job per started row, none twice
