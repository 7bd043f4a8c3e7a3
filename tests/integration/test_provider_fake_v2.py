"""Nano Banana 2 (generate-2) and the refusals: the real client against the contract fake over real HTTP."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from PIL import Image

from nanogen.errors import ProviderRejected
from nanogen.provider.client import NanobananaClient, TaskState, billed_by
from nanogen.provider.fake import FakeProvider
from tests.integration import test_provider_fake as base
from tests.integration.test_provider_fake import KEY, MAX, Receiver, eventually, finished, request

# The base module's fixtures, reused by name (its servers are module-scoped there, and here).
provider_server, receiver_server, fake, fake_url, receiver = (base.provider_server, base.receiver_server, base.fake,
                                                              base.fake_url, base.receiver)
http, make_client, client = base.http, base.make_client, base.client


async def test_generate_2_text_to_image_jpg_with_operation_type(client: NanobananaClient, fake: FakeProvider) -> None:
    task_id = await client.submit(request('a lighthouse', model='nanobanana-2', aspect_ratio='1:8', resolution='4K',
                                          google_search=True))
    params = fake.tasks[task_id].params
    assert {k: v for k, v in params.items() if k != 'callBackUrl'} == {
        'prompt': 'a lighthouse', 'imageUrls': [], 'aspectRatio': '1:8', 'resolution': '4K', 'googleSearch': True,
        'outputFormat': 'jpg'}
    assert fake.calls['/api/v1/nanobanana/generate-2'] == 1
    info = await finished(client, task_id)
    assert info.state is TaskState.SUCCESS and info.operation_type == 'nano-banana-2_4k'
    assert info.raw['errorCode'] is None and info.raw['errorMessage'] is None  # null on success, as documented
    assert info.result_urls[0].endswith('.jpg')
    image = Image.open(io.BytesIO(await client.download(info.result_urls[0], max_bytes=MAX)))
    assert (image.format, image.size) == ('JPEG', (256, 2048))


async def test_generate_2_with_fourteen_references_and_png(client: NanobananaClient, fake: FakeProvider) -> None:
    urls = tuple(f'https://refs.example/{n}.png' for n in range(14))
    task_id = await client.submit(request('edit these', model='nanobanana-2', image_urls=urls, output_format='png',
                                          aspect_ratio='auto', resolution='2K'))
    assert fake.tasks[task_id].params['imageUrls'] == list(urls)
    info = await finished(client, task_id)
    image = Image.open(io.BytesIO(await client.download(info.result_urls[0], max_bytes=MAX)))
    assert (image.format, image.size) == ('PNG', (1536, 1536))


async def test_generate_2_callback_shape(client: NanobananaClient, fake: FakeProvider,
                                         receiver: tuple[Receiver, str]) -> None:
    sink, sink_url = receiver
    fake.config.send_callbacks = True
    task_id = await client.submit(request('called back', f'{sink_url}/cb/v2', model='nanobanana-2'))
    await eventually(lambda: len(sink.bodies) == 1)
    body = sink.bodies[0][1]
    data = body['data']
    assert (body['code'], data['taskId'], data['successFlag'], data['operationType']) == (
        200, task_id, 1, 'nano-banana-2_1k')
    assert data['errorCode'] is None and data['errorMessage'] is None
    notice = NanobananaClient.parse_callback(body)
    assert (notice.task_id, notice.succeeded, notice.code) == (task_id, True, 200)


async def test_generate_2_refusal_is_a_failed_task_with_the_reason_and_no_charge(
        client: NanobananaClient, fake: FakeProvider, receiver: tuple[Receiver, str]) -> None:
    sink, sink_url = receiver
    fake.config.send_callbacks = True
    before = fake.config.credits
    task_id = await client.submit(request('something forbidden', f'{sink_url}/cb/refused', model='nanobanana-2'))
    info = await finished(client, task_id)
    assert info.state is TaskState.CREATE_FAILED and 'sensitive content' in info.error_message
    assert info.operation_type is None and fake.config.credits == before
    await eventually(lambda: len(sink.bodies) == 1)
    notice = NanobananaClient.parse_callback(sink.bodies[0][1])
    assert notice.succeeded is False and 'sensitive content' in notice.message


@pytest.mark.parametrize('model, key', [('nanobanana', 'msg'), ('nanobanana-pro', 'message')])
async def test_generate_and_pro_refuse_at_submit_with_code_400(client: NanobananaClient, http: httpx.AsyncClient,
                                                               fake_url: str, model: str, key: str) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await client.submit(request('forbidden fruit', model=model))
    assert caught.value.provider_code == 400
    path = 'generate' if model == 'nanobanana' else 'generate-pro'
    raw = await http.post(f'{fake_url}/api/v1/nanobanana/{path}', headers={'Authorization': f'Bearer {KEY}'},
                          json={'prompt': 'forbidden', 'callBackUrl': 'https://c/cb'})
    assert raw.json()['code'] == 400 and key in raw.json()


GOOD_2 = {'prompt': 'p', 'imageUrls': [], 'aspectRatio': '1:1', 'resolution': '1K', 'googleSearch': False,
          'outputFormat': 'jpg', 'callBackUrl': 'https://c/cb'}


@pytest.mark.parametrize('body', [
    {**GOOD_2, 'prompt': ''},
    {**GOOD_2, 'prompt': 'x' * 20_001},
    {**GOOD_2, 'imageUrls': ['u'] * 15},
    {**GOOD_2, 'aspectRatio': '7:1'},
    {**GOOD_2, 'resolution': '8K'},
    {**GOOD_2, 'googleSearch': 'yes'},
    {**GOOD_2, 'outputFormat': 'webp'},
])
async def test_fake_validates_generate_2_bodies(http: httpx.AsyncClient, fake_url: str, fake: FakeProvider,
                                                body: dict[str, Any]) -> None:
    headers = {'Authorization': f'Bearer {KEY}'}
    response = await http.post(f'{fake_url}/api/v1/nanobanana/generate-2', json=body, headers=headers)
    assert response.json()['code'] == 422 and fake.submissions == 0
    no_callback = {k: v for k, v in GOOD_2.items() if k != 'callBackUrl'}  # optional on generate-2
    ok = await http.post(f'{fake_url}/api/v1/nanobanana/generate-2', json=no_callback, headers=headers)
    assert ok.json()['code'] == 200 and fake.submissions == 1


@pytest.mark.parametrize('operation, billed', [
    ('nano-banana-2_1k', ('nanobanana-2', '1K')), ('nano-banana-2_4K', ('nanobanana-2', '4K')),
    ('nano-banana-pro_2k', ('nanobanana-pro', '2K')), ('nano-banana', ('nanobanana', None)),
    ('gpt-image_1k', None), ('', None), (None, None),
])
def test_operation_type_names_model_and_resolution(operation: str | None, billed: object) -> None:
    assert billed_by(operation) == billed
