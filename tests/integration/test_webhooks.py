"""Webhooks against a real receiving server, on SQLite and PostgreSQL: signed deliveries of real generations,
retries with backoff, the allow-list and private addresses, and deliveries that survive a restart."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from nanogen.bootstrap import Services
from nanogen.errors import InvalidInput
from nanogen.generation.requests import validate_request
from nanogen.models import Batch, utcnow
from nanogen.webhooks import WebhookSender, WebhookService
from nanogen.webhooks.tables import WebhookDelivery
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status
from tests.support.receiver import Receiver, webhook_receiver
from tests.support.waits import until

ROOT = Path(__file__).resolve().parents[2]
FAST = dict(NANOGEN_WEBHOOK_ALLOWED_HOSTS='127.0.0.1', NANOGEN_WEBHOOK_BACKOFF=0.05, NANOGEN_WEBHOOK_MAX_ATTEMPTS=3)


def docs_verifier() -> Any:
    """The verification snippet from docs/webhooks.md, executed as a receiver would paste it."""
    text = (ROOT / 'docs' / 'webhooks.md').read_text()
    (code,) = re.findall(r'```python\n(.*?)```', text, flags=re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code, 'docs/webhooks.md', 'exec'), namespace)
    return namespace['verify_nanogen_webhook']


async def received(receiver: Receiver, count: int) -> None:
    async def enough() -> bool:
        return len(receiver.got) >= count
    await until(enough, timeout=20, what=f'{count} webhook request(s)')


async def deliveries(services: Services) -> list[WebhookDelivery]:
    return await services.db.run(lambda s: list(s.exec(select(WebhookDelivery).order_by(WebhookDelivery.id))))


@pytest.fixture
async def hooked(fake: Any, make_services: Any, isolated_env: Path, database_url: str) -> tuple[Services, int]:
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, **FAST))
    return services, await add_user(services)


async def test_generations_are_delivered_signed_with_their_payload(hooked: tuple[Services, int], fake: Any) -> None:
    services, ada = hooked
    hooks = services.webhooks
    assert hooks is not None
    verify = docs_verifier()
    with webhook_receiver() as receiver:
        new = await hooks.register(ada, receiver.url, ['generation.completed', 'generation.failed'])
        assert new.secret.startswith('whsec_') and new.secret not in repr(new.info)
        done = await services.generation.create(ada, validate_request(prompt='a "fox" \\ <b>in</b>\nsnow', size=512))
        await received(receiver, 1)
        fake[0].config.fail_rate = 1.0
        failed = await services.generation.create(ada, validate_request(prompt='a whale that fails'))
        await received(receiver, 2)

    first, second = receiver.got
    for got in (first, second):
        assert verify(new.secret, got.headers, got.body)
        assert not verify(new.secret, got.headers, got.body + b' ')  # a changed body fails
        assert not verify('whsec_wrong', got.headers, got.body)
    assert first.headers['X-Nanogen-Event'] == 'generation.completed'
    event = json.loads(first.body)
    data = event['data']
    assert event['type'] == 'generation.completed' and event['id'] == f'prompt-{done.id}-completed'
    assert (data['prompt_id'], data['status'], data['model'], data['cost']) == (
        done.id, 'COMPLETED', 'nanobanana', '0.005000')
    assert data['prompt'] == 'a "fox" \\ <b>in</b>\nsnow'
    (image_id,) = data['image_ids']
    assert data['images'][0]['image'] == f'/api/v1/images/{image_id}/file?variant=image'
    assert data['completed_at'].endswith('Z')
    failure = json.loads(second.body)
    assert second.headers['X-Nanogen-Event'] == 'generation.failed' == failure['type']
    assert failure['data']['prompt_id'] == failed.id and failure['data']['error_message']
    async def both_recorded() -> bool:  # the sender records a delivery after the receiver has answered it
        return {r.state for r in await deliveries(services)} == {'delivered'}
    await until(both_recorded, what='both deliveries recorded')
    rows = await deliveries(services)
    assert [(r.state, r.attempts, r.last_status) for r in rows] == [('delivered', 1, 200)] * 2
    assert first.headers['X-Nanogen-Delivery'] == str(rows[0].id)


async def test_a_failing_receiver_is_retried_with_backoff_then_given_up_and_redelivered(
        hooked: tuple[Services, int]) -> None:
    services, ada = hooked
    hooks = services.webhooks
    assert hooks is not None
    with webhook_receiver(500, 503, 200) as receiver:
        hook = await hooks.register(ada, receiver.url, ['generation.completed'])
        await hooks.ping(ada, hook.info.id)
        await received(receiver, 3)
        (row,) = await deliveries(services)
        async def delivered() -> bool:
            return (await hooks.deliveries(ada, hook.info.id))[0].state == 'delivered'
        await until(delivered, what='the third attempt recorded')
        (history,) = await hooks.deliveries(ada, hook.info.id)
        assert (history.attempts, history.last_status, history.event) == (3, 200, 'ping')
        ids = {g.headers['X-Nanogen-Delivery'] for g in receiver.got}
        assert ids == {str(row.id)} and len({g.body for g in receiver.got}) == 1  # one delivery, the same bytes
        gaps = [b.at - a.at for a, b in zip(receiver.got, receiver.got[1:], strict=False)]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # 0.05 s, then doubled

        receiver.answers = [500, 500, 500]  # NANOGEN_WEBHOOK_MAX_ATTEMPTS=3: then it is failed
        await hooks.ping(ada, hook.info.id)
        async def failed() -> bool:
            return (await hooks.deliveries(ada, hook.info.id))[0].state == 'failed'
        await until(failed, what='the delivery given up')
        latest = (await hooks.deliveries(ada, hook.info.id))[0]
        assert (latest.attempts, latest.last_status, latest.last_error) == (3, 500, 'the receiver answered 500')
        assert len(receiver.got) == 6
        await hooks.redeliver(ada, latest.id)
        await received(receiver, 7)
        await until(delivered, what='the redelivery')


async def test_hosts_off_the_list_and_private_addresses_are_refused(fake: Any, make_services: Any,
                                                                     isolated_env: Path) -> None:
    _provider, url = fake
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url,
                             NANOGEN_WEBHOOK_ALLOWED_HOSTS='*, 127.0.0.1, .nanogen.invalid', NANOGEN_WEBHOOK_BACKOFF=0.05)
    services = await make_services(settings)
    ada = await add_user(services)
    hooks = services.webhooks
    assert hooks is not None
    for bad in ('http://10.0.0.7/hook', 'http://169.254.169.254/latest/meta-data', 'http://localhost:9/x',
                'http://[::1]:9/x', 'http://0x7f000002/x', 'http://192.168.1.1/', 'ftp://127.0.0.1/x',
                'http://user:pw@127.0.0.1/x', 'not a url', 'http://hooks.nanogen.invalid/x'):
        with pytest.raises(InvalidInput) as refused:
            await hooks.register(ada, bad, ['generation.completed'])
        assert refused.value.field == 'url', bad
    with pytest.raises(InvalidInput, match='events'):
        await hooks.register(ada, 'http://127.0.0.1:9/x', ['generation.exploded'])
    none_allowed = WebhookService(services.db, make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url))
    with pytest.raises(InvalidInput, match='NANOGEN_WEBHOOK_ALLOWED_HOSTS'):  # the default: no host at all
        await none_allowed.register(ada, 'http://127.0.0.1:9/x', ['generation.completed'])

    # Allowed when it was registered; at send time the rules say 127.0.0.1 is private: nothing goes out.
    with webhook_receiver() as receiver:
        hook = await hooks.register(ada, receiver.url, ['generation.completed'])
        assert services.webhook_sender is not None
        services.webhook_sender.allowed = ('*',)
        await hooks.ping(ada, hook.info.id)
        async def refused_twice() -> bool:
            return (await hooks.deliveries(ada, hook.info.id))[0].attempts >= 2
        await until(refused_twice, what='two refused attempts')
        (row,) = await hooks.deliveries(ada, hook.info.id)
        assert row.last_status is None and 'private' in (row.last_error or '')
        assert receiver.got == []


def own_batches(s: Any, user_id: int, n: int) -> list[int]:
    made = [Batch(user_id=user_id, name=f'b{i}', status='DONE') for i in range(n)]
    s.add_all(made)
    s.commit()
    return [b.id for b in made]


async def test_pending_deliveries_survive_a_restart(fake: Any, make_services: Any, isolated_env: Path,
                                                    database_url: str) -> None:
    _provider, url = fake
    settings = make_settings(isolated_env, database_url, url, **FAST)
    with webhook_receiver() as receiver:
        first = await make_services(settings, start=False)  # no sender runs: the events stay queued
        await asyncio.to_thread(first.migrate)
        ada = await add_user(first)
        assert first.webhooks is not None
        seven, eight = await first.db.write(lambda s: own_batches(s, ada, 2))  # a hook is only for one's own
        account = await first.webhooks.register(ada, receiver.url, ['batch.completed'])
        batch_7 = await first.webhooks.register(ada, receiver.url, ['batch.completed'], batch_id=seven)
        await first.webhooks.register(ada, receiver.url, ['batch.completed'], batch_id=eight)
        await first.webhooks.register(ada, receiver.url, ['generation.completed'])
        assert await first.webhooks.emit(ada, 'batch.completed', {'batch_id': 7, 'completed': 12}, batch_id=seven,
                                         event_id='batch-7') == 2
        assert await first.webhooks.emit(ada, 'batch.completed', {'batch_id': 7}, batch_id=seven,
                                         event_id='batch-7') == 0  # the same event is queued once
        await first.stop()
        assert receiver.got == []

        second = await make_services(settings)
        await received(receiver, 2)
        rows = await deliveries(second)
        assert sorted(r.endpoint_id for r in rows) == sorted([account.info.id, batch_7.info.id])
        async def all_delivered() -> bool:
            return {r.state for r in await deliveries(second)} == {'delivered'}
        await until(all_delivered, what='both deliveries recorded')
        assert [json.loads(g.body)['data'] for g in receiver.got] == [{'batch_id': 7, 'completed': 12}] * 2


async def test_a_failing_webhook_hook_never_stops_a_prompt_from_ending(fake: Any, make_services: Any,
                                                                       isolated_env: Path) -> None:
    """The deliveries are written in a savepoint of the prompt's final transaction: if that breaks, the prompt
    still ends COMPLETED (a generation is never lost to a webhook)."""
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url, **FAST))
    ada = await add_user(services)

    def broken(s: Any, prompt: Any, image_ids: tuple[int, ...]) -> None:
        s.add(WebhookDelivery(endpoint_id=999999, event='ping', event_id='x', payload='{}'))  # no such endpoint
        s.flush()
    services.generation.rows.on_final = broken
    prompt = await services.generation.create(ada, validate_request(prompt='a fox that still arrives'))
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED' and done.image_id is not None
    assert await deliveries(services) == []


async def test_two_senders_never_send_one_delivery_twice_and_a_dead_ones_lease_runs_out(
        fake: Any, make_services: Any, isolated_env: Path, database_url: str) -> None:
    _provider, url = fake
    settings = make_settings(isolated_env, database_url, url, **FAST)
    services = await make_services(settings, start=False)  # its own sender stays off: the two below race
    await asyncio.to_thread(services.migrate)
    ada = await add_user(services)
    hooks = services.webhooks
    assert hooks is not None
    with webhook_receiver() as receiver:
        hook = await hooks.register(ada, receiver.url, ['generation.completed'])
        for _ in range(12):
            await hooks.ping(ada, hook.info.id)
        one, two = WebhookSender(services.db, settings), WebhookSender(services.db, settings)
        try:
            sent = await asyncio.gather(one.run_due(), two.run_due(), one.run_due(), two.run_due())
            assert sum(sent) == 12
            assert sorted(g.headers['X-Nanogen-Delivery'] for g in receiver.got) == sorted(
                str(r.id) for r in await deliveries(services))

            # A sender claims a delivery and dies before sending: nobody else sends it until its lease runs out.
            await hooks.ping(ada, hook.info.id)
            (claimed,) = await services.db.write(one._claim)
            assert await two.run_due() == 0
            later = WebhookSender(services.db, settings, clock=lambda: utcnow() + one.lease + timedelta(seconds=1))
            assert await later.run_due() == 1
            await later.stop()
        finally:
            await one.stop()
            await two.stop()
        assert receiver.got[-1].headers['X-Nanogen-Delivery'] == str(claimed.id) and len(receiver.got) == 13
    # Deleting the account takes its webhooks and their history with it.
    admin = await add_user(services, 'root@example.com')
    await services.admin.delete_user(admin, ada)
    assert await deliveries(services) == [] and await hooks.endpoints(0, everyone=True) == []


async def test_a_receiver_that_keeps_failing_turns_its_webhook_off_until_the_owner_turns_it_on(
        fake: Any, make_services: Any, isolated_env: Path, database_url: str) -> None:
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, **{
        **FAST, 'NANOGEN_WEBHOOK_MAX_ATTEMPTS': 1, 'NANOGEN_WEBHOOK_DISABLE_AFTER': 2}))
    ada, bob = await add_user(services), await add_user(services, 'bob@example.com')
    hooks = services.webhooks
    assert hooks is not None
    with webhook_receiver(500, 500, 500) as receiver:
        hook = (await hooks.register(ada, receiver.url, ['generation.completed'])).info
        await hooks.ping(ada, hook.id)
        async def failed(n: int) -> bool:
            return [d.state for d in await hooks.deliveries(ada, hook.id)] == ['failed'] * n
        await until(lambda: failed(1), what='the first delivery failed')
        assert (await hooks.get(ada, hook.id)).active  # one failure is not enough
        await hooks.ping(ada, hook.id)
        await until(lambda: failed(2), what='the second delivery failed')
        off = await hooks.get(ada, hook.id)
        assert not off.active and 'its last 2 deliveries failed' in (off.disabled_reason or '')

        assert await hooks.emit(ada, 'generation.completed', {'prompt_id': 1}) == 0  # nothing queued while off
        with pytest.raises(InvalidInput, match='turn it on first'):
            await hooks.ping(ada, hook.id)
        latest = (await hooks.deliveries(ada, hook.id))[0]
        with pytest.raises(InvalidInput, match='turn it on first'):
            await hooks.redeliver(ada, latest.id)
        with pytest.raises(Exception, match='does not exist'):
            await hooks.set_active(bob, hook.id, True)  # only its owner

        on = await hooks.set_active(ada, hook.id, True)
        assert on.active and on.disabled_reason is None
        await hooks.redeliver(ada, latest.id)  # the receiver answers 500 once more, then 200
        await until(lambda: failed(2), what='the redelivery failed once more')
        assert not (await hooks.get(ada, hook.id)).active  # two failed in a row again: off again
        await hooks.set_active(ada, hook.id, True)
        await hooks.redeliver(ada, latest.id)
        async def delivered() -> bool:
            return (await hooks.deliveries(ada, hook.id))[0].state == 'delivered'
        await until(delivered, what='the redelivery')
        assert len(receiver.got) == 4 and (await hooks.get(ada, hook.id)).active


async def test_an_endpoint_turned_off_holds_its_pending_deliveries_until_it_is_on(
        fake: Any, make_services: Any, isolated_env: Path) -> None:
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/w.db', url, **FAST))
    ada = await add_user(services)
    hooks = services.webhooks
    assert hooks is not None
    with webhook_receiver() as receiver:
        hook = (await hooks.register(ada, receiver.url, ['generation.completed'])).info
        sender = WebhookSender(services.db, services.settings)  # a second sender, driven by hand
        services.webhooks.wake = lambda: None  # the app's own sender is not woken ...
        await hooks.set_active(ada, hook.id, False)

        def queue(s) -> None:  # type: ignore[no-untyped-def]  # ... and a delivery is already pending when it is off
            s.add(WebhookDelivery(endpoint_id=hook.id, event='ping', event_id='evt_waiting', payload='{}'))
            s.commit()
        await services.db.write(queue)
        assert await sender.run_due() == 0 and receiver.got == []
        await hooks.set_active(ada, hook.id, True)
        await sender.run_due()  # this sender or the app's (which may hold the claim at this moment) sends it now
        await received(receiver, 1)
        await sender.stop()
