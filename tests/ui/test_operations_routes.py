"""Operations over the app's real routes: /metrics access, /readyz, and no secret in any log after a full flow."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from nicegui.testing import User
from prometheus_client.parser import text_string_to_metric_families

from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.support.inloop import free_port
from tests.support.s3 import TEST_REGION, moto_s3_server
from tests.support.servers import serve_asgi
from tests.ui.helpers import eventually, sign_in
from tests.ui.studio import app_services, result_images

METRICS_TOKEN = 'metrics-token-6b1f0e2a9c'
PROVIDER_KEY = 'nb-live-key-93e1c0ffee42'
SECRET_KEY = 'secret-key-for-the-log-test-0123456789abcdef'
R2_KEY_ID = 'r2-key-id-77aa1c'
R2_SECRET = 'r2-secret-5f0c1a9e7d31b2'


def services() -> Any:
    return app_services()  # the services app.py built for this test


@pytest.fixture
def metrics_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_METRICS_TOKEN', METRICS_TOKEN)


async def test_metrics_token_is_required_when_set(metrics_token: None, user: User) -> None:
    assert (await user.http_client.get('/metrics')).status_code == 401
    wrong = await user.http_client.get('/metrics', headers={'Authorization': 'Bearer nope'})
    assert wrong.status_code == 401 and wrong.json()['error']['code'] == 'unauthorized'
    await sign_in(user, email='ada@example.com')  # an admin session is not enough once a token is configured
    assert (await user.http_client.get('/metrics')).status_code == 401
    ok = await user.http_client.get('/metrics', headers={'Authorization': f'Bearer {METRICS_TOKEN}'})
    assert ok.status_code == 200 and ok.headers['content-type'].startswith('text/plain')
    names = {f.name for f in text_string_to_metric_families(ok.text)}
    assert {'nanogen_generations', 'nanogen_provider_request_seconds', 'nanogen_generations_in_flight',
            'nanogen_storage_errors', 'nanogen_spend_usd_month'} <= names


async def test_without_a_token_only_signed_in_admins_read_metrics(user: User, create_user: Any) -> None:
    await sign_in(user, email='ada@example.com')  # first user: admin
    assert (await user.http_client.get('/metrics')).status_code == 200
    bob: User = create_user()
    await sign_in(bob, name='Bob', email='bob@example.com')
    assert (await bob.http_client.get('/metrics')).status_code == 403


async def test_readyz_checks_database_and_storage(user: User) -> None:
    ready = await user.http_client.get('/readyz')
    assert ready.status_code == 200
    assert ready.json()['data'] == {'database': 'ok', 'storage': 'ok'}


async def test_readyz_says_draining_at_once_after_sigterm(user: User) -> None:
    """Issue 14 item 5: SIGTERM (begin_drain, which app.py chains before uvicorn's own handler) takes the replica
    out of the balancer at once, even while the 2 s readiness cache still holds 'ok'."""
    assert (await user.http_client.get('/readyz')).status_code == 200
    services().begin_drain()
    ready = await user.http_client.get('/readyz')
    assert ready.status_code == 503 and ready.json()['error']['code'] == 'draining'


@pytest.fixture
def dead_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOBANANA_API_KEY', PROVIDER_KEY)
    monkeypatch.setenv('NANOBANANA_BASE_URL', f'http://127.0.0.1:{free_port()}')  # nothing listens there
    monkeypatch.setenv('NANOGEN_PROVIDER_RETRIES', '0')


async def test_readyz_does_not_depend_on_the_provider(dead_provider: None, user: User, create_user: Any) -> None:
    """Issue 11 finding 11: a provider outage leaves every replica ready; admins see it at /admin/status."""
    ready = await user.http_client.get('/readyz')
    assert ready.status_code == 200, ready.text
    assert ready.json()['data'] == {'database': 'ok', 'storage': 'ok'}
    anonymous = await user.http_client.get('/admin/status', headers={'Accept': 'application/json'})
    assert anonymous.status_code == 401  # not for anonymous callers
    await sign_in(user, email='ada@example.com')  # first user: admin
    status = await user.http_client.get('/admin/status')
    assert status.status_code == 200
    body = status.json()
    assert body['data']['provider'] == 'unreachable' and body['data']['database'] == 'ok'
    assert PROVIDER_KEY not in status.text
    bob: User = create_user()
    await sign_in(bob, name='Bob', email='bob@example.com')
    assert (await bob.http_client.get('/admin/status')).status_code == 403


@pytest.fixture
def counting_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    provider = FakeProvider(FakeConfig(latency_s=0.3, send_callbacks=False, api_key=PROVIDER_KEY))
    with serve_asgi(provider.app) as url:
        monkeypatch.setenv('NANOBANANA_API_KEY', PROVIDER_KEY)
        monkeypatch.setenv('NANOBANANA_BASE_URL', url)
        yield provider


async def test_public_probes_never_reach_the_provider(counting_provider: FakeProvider, user: User) -> None:
    """Issue 11 finding 11: /readyz spends no provider call (with the real key); /admin/status caches its one."""
    for _ in range(5):
        assert (await user.http_client.get('/readyz')).status_code == 200
    assert counting_provider.calls['/api/v1/common/credit'] == 0
    await sign_in(user, email='ada@example.com')
    for _ in range(3):
        status = await user.http_client.get('/admin/status')
        assert status.json()['data']['provider'] == 'ok' and status.json()['data']['provider_credits'] == 100.0
    assert counting_provider.calls['/api/v1/common/credit'] == 1


@pytest.fixture
def secrets_everywhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    """A real provider that wants a key, a real S3 with a secret, a real signing key and a metrics token."""
    provider = FakeProvider(FakeConfig(latency_s=0.3, send_callbacks=False, api_key=PROVIDER_KEY))
    with serve_asgi(provider.app) as url, moto_s3_server() as s3:
        for name, value in {'NANOBANANA_API_KEY': PROVIDER_KEY, 'NANOBANANA_BASE_URL': url,
                            'NANOGEN_SECRET_KEY': SECRET_KEY, 'NANOGEN_METRICS_TOKEN': METRICS_TOKEN,
                            'R2_BUCKET': 'nanogen-logs', 'R2_ACCESS_KEY_ID': R2_KEY_ID, 'R2_SECRET_ACCESS_KEY': R2_SECRET,
                            'NANOGEN_S3_ENDPOINT_URL': s3, 'NANOGEN_S3_REGION': TEST_REGION,
                            'NANOGEN_LOG_LEVEL': 'DEBUG'}.items():
            monkeypatch.setenv(name, value)
        yield provider


async def test_no_log_record_carries_a_secret_after_a_full_flow(secrets_everywhere: FakeProvider, user: User,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await sign_in(user, email='ada@example.com', then='/generator')
    cookie = user.http_client.cookies.get('session')
    assert cookie and len(cookie) > 20
    user.find(marker='prompt').type('a harbour at night in the rain')
    user.find(marker='generate').click()
    await eventually(lambda: result_images(user))  # the job card shows the result (/files/<id>/image)
    assert secrets_everywhere.submissions == 1
    assert (await user.http_client.get('/files/1/image')).status_code == 307  # presigned: signed with R2_SECRET

    svc = services()
    token = (await svc.tokens.create(1, 'ci script')).secret
    # Tokens open /api/v1 only (issue 11 finding 9), so the flow uses the API with it.
    api = await user.http_client.get('/api/v1/me', headers={'Authorization': f'Bearer {token}'})
    assert api.status_code == 200 and 'ada@example.com' in api.text
    bad = await user.http_client.get('/api/v1/me', headers={'Authorization': f'Bearer {token}x',
                                                                  'Accept': 'application/json'})
    assert bad.status_code in (401, 403)
    assert (await user.http_client.get('/metrics', headers={'Authorization': f'Bearer {METRICS_TOKEN}'})).status_code \
        == 200
    # Careless lines someone might write one day: the scrubbing must catch every one of them.
    careless = logging.getLogger('nanogen.careless')
    careless.warning('calling the provider with api_key=%s', PROVIDER_KEY)
    careless.warning('request headers: Authorization: Bearer %s', token)
    careless.warning('the browser sent Cookie: session=%s', cookie)
    careless.warning('settings: %s %s %s %s', SECRET_KEY, R2_SECRET, R2_KEY_ID, METRICS_TOKEN)
    careless.warning('token in a url: /x?token=%s', token)
    try:
        raise RuntimeError(f'upload failed with secret {R2_SECRET} and key {PROVIDER_KEY}')
    except RuntimeError:
        careless.warning('an exception with secrets in it', exc_info=True)

    secrets = {'provider key': PROVIDER_KEY, 'api token': token, 'session cookie': cookie,
               'secret key': SECRET_KEY, 'r2 secret': R2_SECRET, 'r2 key id': R2_KEY_ID,
               'metrics token': METRICS_TOKEN}
    texts = [caplog.text]
    for when in ('setup', 'call'):
        for record in caplog.get_records(when):  # type: ignore[arg-type]
            texts += [record.getMessage(), str(record.msg), str(record.args), record.exc_text or '',
                      str(getattr(record, 'stack_info', '') or '')]
    everything = '\n'.join(texts)
    assert everything.count('[redacted]') >= 7  # the careless lines were logged, and cleaned
    assert 'nanogen.careless' in caplog.text and 'RuntimeError: upload failed' in caplog.text
    leaked = [name for name, value in secrets.items() if value in everything]
    assert leaked == []
