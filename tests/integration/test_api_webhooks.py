"""/api/v1/webhooks over HTTP with personal tokens: register (secret once), list, test, deliveries, delete; another
user's webhook is a 404 on every route; only admins list everyone's; bad input is a 422 naming the field."""

from __future__ import annotations

import httpx
import pytest
from nicegui.testing import User

from tests.integration.api_support import api_user, app_services, error_of
from tests.support.receiver import webhook_receiver
from tests.support.waits import until


@pytest.fixture
def webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_WEBHOOK_ALLOWED_HOSTS', '127.0.0.1')
    monkeypatch.setenv('NANOGEN_WEBHOOK_BACKOFF', '0.05')


async def test_webhooks_over_the_api_and_their_access_rules(webhook_settings: None, user: User) -> None:
    ada = await api_user(user)  # the dev install's first user: an admin (her token has the generate scope)
    admin_token = (await app_services().tokens.create(ada.id, 'admin script', scope='admin')).secret
    admin = httpx.AsyncClient(transport=user.http_client._transport, base_url='http://test',
                              headers={'Authorization': f'Bearer {admin_token}'})
    bob = await api_user(user, 'bob@example.com')
    with webhook_receiver() as receiver:
        made = await bob.client.post('/api/v1/webhooks', json={'url': receiver.url, 'events': ['generation.failed']})
        assert made.status_code == 201, made.text
        hook = made.json()['data']
        assert hook['secret'].startswith('whsec_') and hook['events'] == ['generation.failed']
        url = f"/api/v1/webhooks/{hook['id']}"
        listed = (await bob.get('/api/v1/webhooks')).json()['data']
        assert [w['id'] for w in listed] == [hook['id']] and 'secret' not in listed[0]
        assert hook['secret'] not in (await bob.get(url)).text

        ping = await bob.client.post(f'{url}/test')
        assert ping.status_code == 202 and ping.json()['data']['event'] == 'ping'

        async def delivered() -> bool:
            got = (await bob.get(f'{url}/deliveries')).json()['data']
            return bool(got) and got[0]['state'] == 'delivered'
        await until(delivered, what='the ping delivered')
        assert receiver.got[0].headers['X-Nanogen-Event'] == 'ping'
        delivery = (await bob.get(f'{url}/deliveries')).json()['data'][0]
        assert (delivery['attempts'], delivery['last_status']) == (1, 200)

    # Ada (another user, even an admin) gets the same 404 as for a missing webhook on every route.
    for method, path in (('GET', url), ('DELETE', url), ('GET', f'{url}/deliveries'), ('POST', f'{url}/test'),
                         ('PATCH', url),
                         ('POST', f"{url}/deliveries/{delivery['id']}/redeliver"), ('GET', '/api/v1/webhooks/99999')):
        body = {'active': False} if method == 'PATCH' else None
        assert error_of(await ada.client.request(method, path, json=body), 404)['code'] == 'not_found', (method, path)
    assert (await ada.get('/api/v1/webhooks')).json()['data'] == []
    everyone = (await admin.get('/api/v1/webhooks', params={'all': 'true'})).json()['data']
    assert [w['id'] for w in everyone] == [hook['id']] and 'secret' not in everyone[0]
    for not_admin in (bob, ada):  # a token without the admin scope does not act as an admin
        assert error_of(await not_admin.get('/api/v1/webhooks', params={'all': 'true'}), 403)['code'] == 'forbidden'
    assert error_of(await admin.get(f'{url}/deliveries'), 404)['code'] == 'not_found'  # listing is all admins get
    await admin.aclose()

    for body, field in (({'url': 'http://169.254.169.254/x'}, 'url'), ({'url': 'http://example.com/x'}, 'url'),
                        ({'url': 'http://127.0.0.1:9/x', 'events': ['nope']}, 'events'),
                        ({'url': 'http://127.0.0.1:9/x', 'events': []}, 'events'),
                        ({'url': 'http://127.0.0.1:9/x', 'batch_id': 0}, 'batch_id'),
                        ({'url': 'http://127.0.0.1:9/"\\\n<x>'}, 'url')):
        assert error_of(await bob.client.post('/api/v1/webhooks', json=body), 422)['field'] == field, body
    off = await bob.client.patch(url, json={'active': False})
    assert off.status_code == 200 and off.json()['data']['active'] is False
    assert error_of(await bob.client.post(f'{url}/test'), 422)['field'] == 'webhook_id'  # "turn it on first"
    assert error_of(await bob.client.patch(url, json={'active': 'maybe'}), 422)['field'] == 'active'
    on = (await bob.client.patch(url, json={'active': True})).json()['data']
    assert on['active'] is True and on['disabled_reason'] is None
    redeliver_pending = await bob.client.post(f"{url}/deliveries/{delivery['id']}/redeliver")
    assert redeliver_pending.status_code == 202  # delivered: it may be sent again
    assert (await bob.client.delete(url)).status_code == 200
    assert error_of(await bob.get(url), 404)['code'] == 'not_found'
    assert (await bob.get('/api/v1/webhooks')).json()['data'] == []


async def test_a_batch_webhook_only_for_a_batch_of_your_own(webhook_settings: None, user: User) -> None:
    bob = await api_user(user, 'bob@example.com')
    ada = await api_user(user)
    made = await bob.client.post('/api/v1/batches', json={'lines': 'a fox\na hare', 'name': "Bob's"})
    assert made.status_code == 201, made.text
    bobs_batch = made.json()['data']['id']
    hook = {'url': 'http://127.0.0.1:9/hook', 'events': ['batch.completed']}

    # Another user's batch answers like a batch that does not exist, and nothing is registered for Ada.
    for batch_id in (bobs_batch, 99_999):
        refused = await ada.client.post('/api/v1/webhooks', json={**hook, 'batch_id': batch_id})
        assert error_of(refused, 404)['code'] == 'not_found', batch_id
    assert (await ada.get('/api/v1/webhooks')).json()['data'] == []

    own = await bob.client.post('/api/v1/webhooks', json={**hook, 'batch_id': bobs_batch})
    assert own.status_code == 201, own.text
    assert own.json()['data']['batch_id'] == bobs_batch
    await ada.client.aclose()
    await bob.client.aclose()
