"""The real client against the contract fake served over real HTTP (and once through ASGITransport, as the demo)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from nanogen.errors import (
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from nanogen.provider.client import GenerateRequest, NanobananaClient, TaskRecord, TaskState
from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.support.servers import SwappableApp, serve_asgi

KEY = 'sk-test-integration-key'
MAX = 20 * 1024 * 1024


class Receiver:
    """A tiny app that records the callbacks it receives."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []
        self.app = Starlette(routes=[Route('/cb/{name}', self._receive, methods=['POST'])])

    async def _receive(self, request: Request) -> Response:
        self.bodies.append((request.path_params['name'], await request.json()))
        return JSONResponse({'ok': True})


@pytest.fixture(scope='module')
def provider_server() -> Iterator[tuple[SwappableApp, str]]:
    app = SwappableApp()
    with serve_asgi(app) as url:
        yield app, url


@pytest.fixture(scope='module')
def receiver_server() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with serve_asgi(receiver.app) as url:
        yield receiver, url


@pytest.fixture
def fake(provider_server: tuple[SwappableApp, str]) -> FakeProvider:
    # Callbacks only where a test receives them: elsewhere they would just log failed deliveries.
    provider = FakeProvider(FakeConfig(latency_s=0.2, seed=7, api_key=KEY, send_callbacks=False))
    provider_server[0].target = provider.app
    return provider


@pytest.fixture
def fake_url(fake: FakeProvider, provider_server: tuple[SwappableApp, str]) -> str:
    return provider_server[1]


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, str]) -> tuple[Receiver, str]:
    receiver_server[0].bodies.clear()
    return receiver_server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def make_client(http: httpx.AsyncClient, fake_url: str) -> Callable[..., NanobananaClient]:
    def factory(*, via: httpx.AsyncClient | None = None, **options: Any) -> NanobananaClient:
        return NanobananaClient(via or http, **{'api_key': KEY, 'base_url': fake_url, 'backoff_base': 0.01,
                                         'backoff_max': 0.05, **options})
    return factory


@pytest.fixture
def client(make_client: Callable[..., NanobananaClient]) -> NanobananaClient:
    return make_client()


async def finished(client: NanobananaClient, task_id: str, timeout: float = 5.0) -> TaskRecord:
    async with asyncio.timeout(timeout):
        while (info := await client.record_info(task_id)).state is TaskState.GENERATING:
            await asyncio.sleep(0.05)
    return info


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def request(prompt: str, callback_url: str = 'https://app.invalid/cb', **options: Any) -> GenerateRequest:
    return GenerateRequest(prompt=prompt, callback_url=callback_url, **options)


async def test_success_gives_real_prompt_dependent_pngs(client: NanobananaClient, fake: FakeProvider) -> None:
    fox = await client.submit(request('a red fox in the snow', num_images=2, aspect_ratio='16:9'))
    owl = await client.submit(request('an owl at night'))
    assert (await client.record_info(fox)).state is TaskState.GENERATING
    fox_info, owl_info = await finished(client, fox), await finished(client, owl)
    assert fox_info.state is TaskState.SUCCESS and len(fox_info.result_urls) == 2 and len(fox_info.origin_urls) == 2
    assert fox_info.raw['completeTime'] and fox_info.raw['createTime']
    images = [await client.download(url, max_bytes=MAX) for url in (*fox_info.result_urls, *owl_info.result_urls)]
    decoded = [Image.open(io.BytesIO(data)) for data in images]
    assert [(img.format, img.size) for img in decoded] == [('PNG', (1024, 576)), ('PNG', (1024, 576)),
                                                           ('PNG', (1024, 1024))]
    assert len(set(images)) == 3  # two prompts and two variants: all different
    assert len(decoded[2].convert('RGB').getcolors(maxcolors=1 << 24) or ()) > 100  # a picture, not a blank square
    assert fake.submissions == 2


async def test_pro_model_over_http(client: NanobananaClient) -> None:
    task_id = await client.submit(request('a castle', model='nanobanana-pro', aspect_ratio='3:4', resolution='2K'))
    info = await finished(client, task_id)
    image = Image.open(io.BytesIO(await client.download(info.result_urls[0], max_bytes=MAX)))
    assert image.size == (1152, 1536)


async def test_generation_failure(client: NanobananaClient, fake: FakeProvider) -> None:
    fake.config.fail_rate = 1.0
    info = await finished(client, await client.submit(request('anything')))
    assert (info.state, info.error_code, info.result_urls) == (TaskState.GENERATE_FAILED, 501, ())
    assert 'failed' in info.error_message.lower()


async def test_rate_limit_then_recovery_without_double_submission(make_client: Callable[..., NanobananaClient],
                                                                  fake: FakeProvider, http: httpx.AsyncClient,
                                                                  fake_url: str) -> None:
    await http.post(f'{fake_url}/_fake/config', json={'rate_limit_rate': 1.0})
    retries: list[int] = []

    def recover(error: ProviderError, delay: float, attempt: int) -> None:
        retries.append(attempt)
        if attempt == 2:
            fake.config.rate_limit_rate = 0.0

    client = make_client(on_retry=recover)
    task_id = await client.submit(request('patience'))
    assert retries == [1, 2] and fake.submissions == 1 and list(fake.tasks) == [task_id]
    fake.config.rate_limit_rate = 1.0
    with pytest.raises(ProviderRateLimited):
        await make_client(retries=2).credit()


async def test_malformed_json_recovered_on_reads_but_not_resent_on_submit(
        make_client: Callable[..., NanobananaClient], fake: FakeProvider) -> None:
    retries: list[int] = []

    def recover(error: ProviderError, delay: float, attempt: int) -> None:
        retries.append(attempt)
        fake.config.malformed_rate = 0.0

    client = make_client(on_retry=recover)
    fake.config.malformed_rate = 1.0
    assert await client.credit() == 100.0 and retries == [1]
    fake.config.malformed_rate = 1.0
    with pytest.raises(ProviderBadResponse) as caught:
        await client.submit(request('once only'))
    assert caught.value.retryable is False and retries == [1] and fake.submissions == 0


async def test_server_errors_exhaust_retries_then_recover(make_client: Callable[..., NanobananaClient],
                                                          fake: FakeProvider) -> None:
    fake.config.error_rate = 1.0
    client = make_client(retries=2)
    with pytest.raises(ProviderUnavailable) as caught:
        await client.credit()
    assert caught.value.provider_code == 500
    assert fake.calls['/api/v1/common/credit'] == 3
    fake.config.error_rate = 0.0
    assert await client.credit() == 100.0


async def test_hanging_submit_is_not_resent(make_client: Callable[..., NanobananaClient], fake: FakeProvider) -> None:
    fake.config.timeout_rate, fake.config.hang_s = 1.0, 0.5
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        client = make_client(via=impatient)
        with pytest.raises(ProviderUnavailable) as caught:
            await client.submit(request('slow'))
        assert caught.value.retryable is False
        with pytest.raises(ProviderUnavailable):
            await make_client(via=impatient, retries=1).credit()
    # The service went on to create the task: resending would have charged it twice.
    await eventually(lambda: fake.submissions == 1)
    assert fake.calls['/api/v1/nanobanana/generate'] == 1


async def test_credit_is_spent_and_runs_out(client: NanobananaClient, fake: FakeProvider) -> None:
    assert await client.credit() == 100.0
    await client.submit(request('three', num_images=3))
    assert await client.credit() == 97.0
    fake.config.credits = 0.5
    with pytest.raises(ProviderRejected) as caught:
        await client.submit(request('broke'))
    assert caught.value.provider_code == 402 and fake.submissions == 1


async def test_api_key_is_enforced(make_client: Callable[..., NanobananaClient], fake: FakeProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await make_client(api_key='wrong-key').credit()
    assert caught.value.provider_code == 401 and 'NANOBANANA_API_KEY' in caught.value.user_message
    assert 'wrong-key' not in f'{caught.value} {caught.value.detail}'
    assert fake.calls['/api/v1/common/credit'] == 1  # refused once, never retried


@pytest.mark.parametrize('shape', ['new', 'old'])
async def test_callbacks_both_shapes_with_duplicates(client: NanobananaClient, fake: FakeProvider, shape: str,
                                                     receiver: tuple[Receiver, str]) -> None:
    sink, sink_url = receiver
    fake.config.send_callbacks, fake.config.callback_shape, fake.config.duplicate_callbacks = True, shape, True
    task_id = await client.submit(request('called back', f'{sink_url}/cb/{shape}', num_images=2))
    # The fake counts a callback once its answer is back, a moment after the sink has the body: wait for both.
    await eventually(lambda: len(sink.bodies) == 2 and fake.tasks[task_id].callbacks_sent == 2)
    notices = [NanobananaClient.parse_callback(body) for _, body in sink.bodies]
    info = await client.record_info(task_id)
    assert [(n.task_id, n.succeeded, n.code, n.result_urls) for n in notices] == [
        (task_id, True, 200, info.result_urls)] * 2
    assert sink.bodies[0][0] == shape
    assert ('successFlag' in sink.bodies[0][1]['data']) is (shape == 'new')


async def test_failure_callback(client: NanobananaClient, fake: FakeProvider, receiver: tuple[Receiver, str]) -> None:
    sink, sink_url = receiver
    fake.config.send_callbacks, fake.config.fail_rate = True, 1.0
    task_id = await client.submit(request('doomed', f'{sink_url}/cb/fail'))
    await eventually(lambda: len(sink.bodies) == 1)
    notice = NanobananaClient.parse_callback(sink.bodies[0][1])
    assert (notice.task_id, notice.succeeded, notice.code) == (task_id, False, 501)


async def test_complete_control_and_stats(client: NanobananaClient, fake: FakeProvider, http: httpx.AsyncClient,
                                          fake_url: str) -> None:
    fake.config.latency_s = 600.0
    done, failed = await client.submit(request('fast-forward')), await client.submit(request('fail on demand'))
    assert (await http.post(f'{fake_url}/_fake/complete/{done}')).status_code == 200
    assert (await http.post(f'{fake_url}/_fake/complete/{failed}', params={'outcome': 'failed'})).status_code == 200
    assert (await client.record_info(done)).state is TaskState.SUCCESS
    assert (await client.record_info(failed)).state is TaskState.GENERATE_FAILED
    stats = (await http.get(f'{fake_url}/_fake/stats')).json()
    assert stats['submissions'] == 2 and stats['tasks'][done]['state'] == 'success'
    assert (await http.post(f'{fake_url}/_fake/complete/nope')).status_code == 404
    with pytest.raises(ProviderRejected) as caught:
        await client.record_info('nope')
    assert caught.value.provider_code == 404
    fake.reset_stats()
    assert fake.submissions == 0 and len(fake.tasks) == 2


async def test_inline_base64_results(client: NanobananaClient, fake: FakeProvider) -> None:
    fake.config.inline_base64 = True
    info = await finished(client, await client.submit(request('inline')))
    assert info.result_urls[0].startswith('data:image/png;base64,')
    assert Image.open(io.BytesIO(await client.download(info.result_urls[0], max_bytes=MAX))).format == 'PNG'


async def test_content_policy(client: NanobananaClient, fake: FakeProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await client.submit(request('something Forbidden here'))
    assert caught.value.provider_code == 400 and 'content policy' in caught.value.user_message
    assert fake.submissions == 0


GOOD = {'prompt': 'p', 'type': 'TEXTTOIAMGE', 'numImages': 1, 'image_size': '1:1', 'callBackUrl': 'https://c/cb'}


@pytest.mark.parametrize('path, body', [
    ('generate', {**GOOD, 'prompt': ''}),
    ('generate', {k: v for k, v in GOOD.items() if k != 'prompt'}),
    ('generate', {**GOOD, 'numImages': 5}),
    ('generate', {**GOOD, 'numImages': '2'}),
    ('generate', {**GOOD, 'image_size': '7:1'}),
    ('generate', {**GOOD, 'type': 'TEXTTOIMAGE'}),  # the correct English spelling is not the wire value
    ('generate', {**GOOD, 'type': 'IMAGETOIAMGE'}),  # image-to-image without imageUrls
    ('generate', {k: v for k, v in GOOD.items() if k != 'callBackUrl'}),
    ('generate-pro', {'prompt': 'p', 'aspectRatio': '7:1', 'callBackUrl': 'https://c/cb'}),
    ('generate-pro', {'prompt': 'p', 'resolution': '8K', 'callBackUrl': 'https://c/cb'}),
    ('generate-pro', {'prompt': 'p', 'imageUrls': ['u'] * 9, 'callBackUrl': 'https://c/cb'}),
])
async def test_fake_validates_submit_bodies(http: httpx.AsyncClient, fake_url: str, fake: FakeProvider, path: str,
                                            body: dict[str, Any]) -> None:
    response = await http.post(f'{fake_url}/api/v1/nanobanana/{path}', json=body,
                               headers={'Authorization': f'Bearer {KEY}'})
    assert response.status_code == 200 and response.json()['code'] == 422
    assert fake.submissions == 0
    ok = await http.post(f'{fake_url}/api/v1/nanobanana/generate', json=GOOD, headers={'Authorization': f'Bearer {KEY}'})
    assert ok.json()['code'] == 200 and fake.submissions == 1


async def test_config_control_refuses_unknown_fields(http: httpx.AsyncClient, fake_url: str,
                                                     fake: FakeProvider) -> None:
    assert (await http.post(f'{fake_url}/_fake/config', json={'nonsense': 1})).status_code == 422
    answer = await http.post(f'{fake_url}/_fake/config', json={'latency_s': 1.5, 'content_policy_words': ['nope']})
    assert answer.json()['latency_s'] == 1.5 and fake.config.content_policy_words == ('nope',)


async def test_demo_mode_through_asgi_transport() -> None:
    fake = FakeProvider(FakeConfig(latency_s=0.05, send_callbacks=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app)) as http:
        client = NanobananaClient(http, api_key='', base_url='http://demo.provider')
        info = await finished(client, await client.submit(request('demo', num_images=2)))
        assert info.result_urls[0].startswith('http://demo.provider/files/')
        images = [await client.download(url, max_bytes=MAX) for url in info.result_urls]
        assert all(Image.open(io.BytesIO(data)).format == 'PNG' for data in images)
