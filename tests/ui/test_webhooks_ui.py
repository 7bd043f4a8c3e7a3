"""The profile's Webhooks card as a person uses it: a refused URL says why, the secret is shown once, a test event
that the receiver refuses ends failed in the history, Redeliver sends it, the switch turns it off and on (and a
webhook the app turned off says why), Delete removes the webhook."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from tests.support.receiver import webhook_receiver
from tests.ui.helpers import elements, eventually, should_not_see, should_see, sign_in
from tests.ui.studio import app_services, user_id


@pytest.fixture
def webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before `user` starts the app that reads them: the local receiver allowed, tiny backoff, two attempts."""
    monkeypatch.setenv('NANOGEN_WEBHOOK_ALLOWED_HOSTS', '127.0.0.1')
    monkeypatch.setenv('NANOGEN_WEBHOOK_BACKOFF', '0.05')
    monkeypatch.setenv('NANOGEN_WEBHOOK_MAX_ATTEMPTS', '2')


def _turned_off_by_the_app(s, endpoint_id: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    from nanogen.webhooks.tables import WebhookEndpoint
    row = s.get(WebhookEndpoint, endpoint_id)
    row.active, row.disabled_reason = False, reason
    s.add(row)
    s.commit()


async def test_add_see_the_secret_once_test_redeliver_and_delete_a_webhook(webhook_settings: None, user: User) -> None:
    await sign_in(user, then='/profile')
    await should_see(user, 'No webhooks yet.')
    user.find(marker='webhook-url').type('http://10.1.2.3/hook')
    user.find(marker='add-webhook').click()
    await should_see(user, "10.1.2.3 is not on this server's list of webhook hosts")

    with webhook_receiver(500, 500) as receiver:
        user.find(marker='webhook-url').clear().type(receiver.url)
        user.find(marker='add-webhook').click()
        await should_see(user, 'it will not be shown again')
        secret = user.find(marker='new-webhook-secret').elements.pop().value
        assert secret.startswith('whsec_')
        user.find(marker='close-webhook-secret').click()
        await should_not_see(user, 'it will not be shown again')
        await should_see(user, receiver.url)
        services = app_services()
        assert services.webhooks is not None
        ada = await user_id(services, 'ada@example.com')
        (hook,) = await services.webhooks.endpoints(ada)

        user.find(marker=f'ping-webhook-{hook.id}').click()
        await should_see(user, 'Test event queued')
        (queued,) = await services.webhooks.deliveries(ada, hook.id)

        async def redeliver_offered() -> bool:  # both attempts answered 500: failed, so it can be sent again
            user.find(marker=f'refresh-deliveries-{hook.id}').click()
            return bool(elements(user, marker=f'redeliver-{queued.id}'))
        await eventually(redeliver_offered, message='the failed delivery never offered Redeliver')
        assert len(receiver.got) == 2
        user.find(marker=f'redeliver-{queued.id}').click()
        await should_see(user, 'Sending it again.')

        async def delivered() -> bool:
            user.find(marker=f'refresh-deliveries-{hook.id}').click()
            return (await services.webhooks.deliveries(ada, hook.id))[0].state == 'delivered' and not elements(
                user, marker=f'redeliver-{queued.id}')
        await eventually(delivered, message='the redelivery never went through')
        assert len(receiver.got) == 3

    await user.open('/profile')  # a reload never shows the secret again
    await should_not_see(user, secret)
    await should_see(user, hook.secret_hint)
    user.find(marker=f'webhook-active-{hook.id}').click()  # the owner's switch: off
    await should_see(user, 'Webhook off: nothing is sent to it')
    assert not (await services.webhooks.get(ada, hook.id)).active
    user.find(marker=f'ping-webhook-{hook.id}').click()
    await should_see(user, 'This webhook is off: turn it on first')
    await services.webhooks.set_active(ada, hook.id, True)
    await services.webhooks.set_active(ada, hook.id, False)
    await services.db.write(lambda s: _turned_off_by_the_app(s, hook.id, 'Turned off: "5" <b>failed</b>'))
    await user.open('/profile')  # why the app turned it off, shown as text
    await should_see(user, 'Turned off: "5" <b>failed</b>')
    user.find(marker=f'webhook-active-{hook.id}').click()
    await should_see(user, 'Webhook on: waiting events go out now.')
    await should_not_see(user, 'Turned off: "5" <b>failed</b>')
    assert (await services.webhooks.get(ada, hook.id)).active
    user.find(marker=f'delete-webhook-{hook.id}').click()
    await should_see(user, 'No webhooks yet.')
    assert await services.webhooks.endpoints(ada) == []


async def test_a_webhook_for_one_batch_from_its_page(webhook_settings: None, user: User) -> None:
    from nanogen.batches.inputs import from_lines
    services = app_services()
    assert services.batches is not None and services.webhooks is not None
    await sign_in(user, then='/batches')
    ada = await user_id(services, 'ada@example.com')
    batch = await services.batches.create(ada, from_lines('a fox\na hare', max_rows=10), name='Two')
    await user.open(f'/batches/{batch.id}')
    user.find(marker='batch-webhook-url').type('http://10.1.2.3/hook')
    user.find(marker='batch-add-webhook').click()
    await should_see(user, "10.1.2.3 is not on this server's list of webhook hosts")
    user.find(marker='batch-webhook-url').clear().type('http://127.0.0.1:9/hook')
    user.find(marker='batch-add-webhook').click()
    await should_see(user, marker='new-webhook-secret')
    (hook,) = await services.webhooks.endpoints(ada)
    assert (hook.batch_id, hook.url, hook.events) == (batch.id, 'http://127.0.0.1:9/hook',
                                                      ['generation.completed', 'generation.failed', 'batch.completed'])
