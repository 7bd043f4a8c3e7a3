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
