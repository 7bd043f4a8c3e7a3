"""Batches and webhooks together, on SQLite and PostgreSQL: an endpoint registered for a batch hears that batch's
generations and its end, and nothing of a single prompt; an account endpoint hears everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nanogen.batches.inputs import from_lines
from nanogen.generation.requests import validate_request
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status
from tests.support.receiver import webhook_receiver
from tests.support.waits import until

FAST = dict(NANOGEN_WEBHOOK_ALLOWED_HOSTS='127.0.0.1', NANOGEN_WEBHOOK_BACKOFF=0.05, NANOGEN_WEBHOOK_MAX_ATTEMPTS=3)
EVENTS = ['generation.completed', 'generation.failed', 'batch.completed']


async def test_a_batch_endpoint_hears_its_batch_and_its_end_only(fake: Any, make_services: Any, isolated_env: Path,
                                                                 database_url: str) -> None:
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, **FAST))
    assert services.batches is not None and services.webhooks is not None
    ada = await add_user(services)
    with webhook_receiver() as for_batch, webhook_receiver() as for_account:
        batch = await services.batches.create(ada, from_lines('a fox\na hare', max_rows=10), name='Two')
        await services.webhooks.register(ada, for_batch.url, EVENTS, batch_id=batch.id)
        await services.webhooks.register(ada, for_account.url, EVENTS)
        single = await services.generation.create(ada, validate_request(prompt='a lone owl', size=512))
        await wait_status(services, single.id, {'COMPLETED'})

        async def heard_all() -> bool:  # two rows and the end; the account also hears the single prompt
            return len(for_batch.got) >= 3 and len(for_account.got) >= 4
        await until(heard_all, timeout=40, what='the batch webhooks')
        events = [(g.headers['X-Nanogen-Event'], json.loads(g.body)['data']) for g in for_batch.got]
        assert sorted(e for e, _ in events) == ['batch.completed', 'generation.completed', 'generation.completed']
        (end,) = [data for e, data in events if e == 'batch.completed']
        assert end['batch_id'] == batch.id and end['status'] == 'DONE' and end['counts']['done'] == 2
        assert all(data.get('prompt_id') != single.id for e, data in events if e != 'batch.completed')
        assert sum(1 for g in for_account.got if g.headers['X-Nanogen-Event'] == 'batch.completed') == 1


def _batch_ends(s: Any, batch_id: int) -> tuple[str, Any, list[dict[str, Any]]]:
    """In one read: the batch's status, its finished_at and the `batch.completed` payloads queued for it."""
    from sqlmodel import col, select

    from nanogen.models import Batch
    from nanogen.webhooks.tables import WebhookDelivery
    batch = s.get(Batch, batch_id)
    payloads = [json.loads(p)['data'] for p in s.exec(select(WebhookDelivery.payload).where(
        col(WebhookDelivery.event) == 'batch.completed'))]
    return batch.status, batch.finished_at, [p for p in payloads if p['batch_id'] == batch_id]


async def test_batch_completed_commits_with_the_batch_end(fake: Any, make_services: Any, isolated_env: Path,
                                                          database_url: str) -> None:
    """The outbox: nothing that runs after the commit is needed (here nothing does, as if the process died right
    after it), and the batch is never seen DONE without its `batch.completed` delivery."""
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, **FAST))
    assert services.batches is not None and services.webhooks is not None
    ada = await add_user(services)
    with webhook_receiver() as receiver:
        await services.webhooks.register(ada, receiver.url, ['batch.completed'])
        services.batches.feeder.on_finished = lambda ended: None  # "killed" between the commit and anything after
        batch = await services.batches.create(ada, from_lines('a fox\na hare', max_rows=10))
        seen: list[tuple[str, Any, list[dict[str, Any]]]] = []

        async def ended() -> bool:
            seen.append(await services.db.run(lambda s: _batch_ends(s, batch.id)))
            return seen[-1][0] == 'DONE'
        await until(ended, timeout=40, what='the batch to end')
        _status, finished_at, (end,) = seen[-1]
        assert finished_at is not None and end['status'] == 'DONE' and end['counts']['done'] == 2
        assert all(payloads == [] for st, _, payloads in seen if st != 'DONE')

        async def sent() -> bool:
            return len(receiver.got) == 1
        await until(sent, what="the delivery sent by the sender's own poll")


async def test_a_paused_batch_with_nothing_left_ends_and_a_cancel_is_announced_when_its_rows_have_ended(
        fake: Any, make_services: Any, isolated_env: Path, database_url: str) -> None:
    provider, url = fake
    provider.config.latency_s = 1.0
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_BATCH_CONCURRENCY=2,
                                                 NANOGEN_MAX_CONCURRENT_PER_USER=5, **FAST))
    batches = services.batches
    assert batches is not None and services.webhooks is not None
    ada = await add_user(services)
    await services.webhooks.register(ada, 'http://127.0.0.1:9/hook', ['batch.completed'])

    async def in_flight(batch_id: int, n: int) -> bool:
        return (await batches.get(ada, batch_id, rows=False)).counts['running'] == n

    # Paused once its last rows were started: nothing is queued, and when they end the batch is DONE.
    paused = await batches.create(ada, from_lines('a fox\na hare', max_rows=10))
    await until(lambda: in_flight(paused.id, 2), what='both rows running')
    await batches.pause(ada, paused.id)
    await until(lambda: _status_of(services, paused.id, 'DONE'), timeout=40, what='the paused batch to end')
    status, finished_at, (end,) = await services.db.run(lambda s: _batch_ends(s, paused.id))
    assert finished_at is not None and end['status'] == 'DONE' and end['counts']['done'] == 2

    # Cancelled with two rows running: CANCELLED at once, but its end (and batch.completed) waits for those rows.
    cancelled = await batches.create(ada, from_lines('a fox\na hare\nan owl\na vole\na mole', max_rows=10))
    await until(lambda: in_flight(cancelled.id, 2), what='two rows running')
    view = await batches.cancel(ada, cancelled.id)
    assert view.status == 'CANCELLED' and view.counts['cancelled'] == 3
    status, finished_at, ends = await services.db.run(lambda s: _batch_ends(s, cancelled.id))
    assert (status, finished_at, ends) == ('CANCELLED', None, [])
    await until(lambda: in_flight(cancelled.id, 0), timeout=40, what='the running rows to end')

    async def announced() -> bool:
        return bool((await services.db.run(lambda s: _batch_ends(s, cancelled.id)))[2])
    await until(announced, what='batch.completed for the cancelled batch')
    status, finished_at, (end,) = await services.db.run(lambda s: _batch_ends(s, cancelled.id))
    assert status == 'CANCELLED' and finished_at is not None
    assert end['status'] == 'CANCELLED' and end['counts'] == {'done': 2, 'running': 0, 'failed': 0, 'queued': 0,
                                                              'cancelled': 3}


async def _status_of(services: Any, batch_id: int, status: str) -> bool:
    from nanogen.models import Batch
    return await services.db.run(lambda s: s.get(Batch, batch_id).status) == status
