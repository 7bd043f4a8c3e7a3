"""Unit tests of the Nanobanana client against httpx.MockTransport: wire format, error mapping, retries, parsing."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from nanogen.errors import (
    ConfigError,
    InvalidInput,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from nanogen.provider.client import GenerateRequest, NanobananaClient, TaskState

KEY = 'sk-live-S3CRET-key-0123456789'
BASE = 'https://api.nanobanana.test'
PNG = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4

Reply = httpx.Response | Exception


def env(code: int = 200, data: Any = None, *, key: str = 'msg', message: str = 'success', status: int = 200,
        headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={'code': code, key: message, 'data': data}, headers=headers)


class Script:
    """A MockTransport handler answering with the given replies in order, recording every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply


Factory = Callable[..., tuple[NanobananaClient, list[float], Script]]


@pytest.fixture
async def make() -> AsyncIterator[Factory]:
    opened: list[httpx.AsyncClient] = []

    def factory(*replies: Reply, **options: Any) -> tuple[NanobananaClient, list[float], Script]:
        script = Script(*replies)
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        opened.append(http)
        delays: list[float] = []

        async def sleep(delay: float) -> None:
            delays.append(delay)

        options = {'api_key': KEY, 'base_url': BASE, 'rng': lambda: 1.0, **options}
        return NanobananaClient(http, sleep=sleep, **options), delays, script

    yield factory
    for http in opened:
        await http.aclose()


def record(**data: Any) -> dict[str, Any]:
    return {'taskId': 't1', 'paramJson': '{}', 'createTime': '', 'completeTime': '', 'response': None,
            'successFlag': 0, 'errorCode': 0, 'errorMessage': '', **data}


def assert_no_key(error: BaseException) -> None:
    assert isinstance(error, ProviderError)
    for text in (str(error), error.user_message, error.detail or '', repr(error.args)):
        assert KEY not in text


# --- what we send
async def test_text_to_image_sends_the_exact_body_and_bearer(make: Factory) -> None:
    client, _, script = make(env(data={'taskId': 'abc123'}))
    task_id = await client.submit(GenerateRequest(prompt='a red fox', callback_url='https://app.test/cb/tok',
                                                  num_images=2, aspect_ratio='16:9'))
    assert task_id == 'abc123'
    [request] = script.requests
    assert (request.method, str(request.url)) == ('POST', f'{BASE}/api/v1/nanobanana/generate')
    assert request.headers['Authorization'] == f'Bearer {KEY}'
    assert json.loads(request.content) == {'prompt': 'a red fox', 'type': 'TEXTTOIAMGE', 'numImages': 2,
                                           'image_size': '16:9', 'callBackUrl': 'https://app.test/cb/tok'}


async def test_image_to_image_sends_image_urls_and_watermark(make: Factory) -> None:
    client, _, script = make(env(data={'taskId': 'i2i'}))
    await client.submit(GenerateRequest(prompt='make it blue', callback_url='https://app.test/cb', watermark='ACME',
                                        image_urls=('https://s3.test/a.png', 'https://s3.test/b.png')))
    assert json.loads(script.requests[0].content) == {
        'prompt': 'make it blue', 'type': 'IMAGETOIAMGE', 'numImages': 1, 'image_size': '1:1',
        'callBackUrl': 'https://app.test/cb', 'imageUrls': ['https://s3.test/a.png', 'https://s3.test/b.png'],
        'watermark': 'ACME'}


async def test_pro_model_posts_to_generate_pro_and_reads_message(make: Factory) -> None:
    client, _, script = make(env(data={'taskId': 'pro1'}, key='message'))
    task_id = await client.submit(GenerateRequest(prompt='p', callback_url='https://app.test/cb', model='nanobanana-pro',
                                                  aspect_ratio='auto', resolution='2K', image_urls=('https://x/1',)))
    assert task_id == 'pro1'
    assert str(script.requests[0].url) == f'{BASE}/api/v1/nanobanana/generate-pro'
    assert json.loads(script.requests[0].content) == {'prompt': 'p', 'imageUrls': ['https://x/1'], 'resolution': '2K',
                                                      'aspectRatio': 'auto', 'callBackUrl': 'https://app.test/cb'}


@pytest.mark.parametrize('req, field', [
    (GenerateRequest(prompt='  ', callback_url='https://c'), 'prompt'),
    (GenerateRequest(prompt='p', callback_url='https://c', num_images=5), 'num_images'),
    (GenerateRequest(prompt='p', callback_url='https://c', aspect_ratio='7:1'), 'aspect_ratio'),
    (GenerateRequest(prompt='p', callback_url='https://c', aspect_ratio='auto'), 'aspect_ratio'),
    (GenerateRequest(prompt='p', callback_url='https://c', model='dall-e'), 'model'),
    (GenerateRequest(prompt='p', callback_url='https://c', model='nanobanana-pro', num_images=2), 'num_images'),
    (GenerateRequest(prompt='p', callback_url='https://c', model='nanobanana-pro', resolution='8K'), 'resolution'),
    (GenerateRequest(prompt='p', callback_url='https://c', model='nanobanana-pro', image_urls=('u',) * 9),
     'image_urls'),
])
async def test_invalid_requests_are_refused_before_sending(make: Factory, req: GenerateRequest, field: str) -> None:
    client, _, script = make(env(data={'taskId': 'x'}))
    with pytest.raises(InvalidInput) as caught:
        await client.submit(req)
    assert caught.value.field == field
    assert script.requests == []


async def test_empty_api_key_sends_no_authorization_header(make: Factory) -> None:
    client, _, script = make(env(data=7), api_key='')
    assert await client.credit() == 7.0
    assert 'Authorization' not in script.requests[0].headers


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError):
        NanobananaClient(httpx.AsyncClient(), api_key=KEY, base_url='ftp://x')


# --- envelope codes and retries
NEVER_RETRIED = [
    (400, 'The provider refused this prompt (content policy). Rephrase it and try again.'),
    (401, 'The provider rejected our API key. An admin must check NANOBANANA_API_KEY.'),
    (402, 'The provider account is out of credits. An admin must top it up.'),
    (404, None), (422, None), (501, None),
    (505, 'This feature is disabled at the provider.'),
    (999, 'The provider answered with an unexpected error (code 999).'),
]


@pytest.mark.parametrize('code, message', NEVER_RETRIED)
async def test_final_codes_under_http_200_are_rejected_without_retry(make: Factory, code: int,
                                                                     message: str | None) -> None:
    client, delays, script = make(env(code, message=f'echo {KEY}'), env(data={'taskId': 'never'}))
    with pytest.raises(ProviderRejected) as caught:
        await client.submit(GenerateRequest(prompt='p', callback_url='https://c'))
    assert len(script.requests) == 1 and delays == []
    assert caught.value.provider_code == code
    assert caught.value.retryable is False
    if message:
        assert caught.value.user_message == message
    assert_no_key(caught.value)


@pytest.mark.parametrize('code, cls, message', [
    (429, ProviderRateLimited, 'The provider is rate-limiting us.'),
    (455, ProviderUnavailable, 'The provider is under maintenance.'),
    (500, ProviderUnavailable, 'The provider had an internal error. Try again in a moment.'),
])
async def test_retryable_codes_are_retried_then_the_last_error_is_raised(make: Factory, code: int,
                                                                         cls: type[ProviderError],
                                                                         message: str) -> None:
    client, delays, script = make(env(code), retries=3)
    with pytest.raises(cls) as caught:
        await client.record_info('t1')
    assert len(script.requests) == 4 and delays == [0.5, 1.0, 2.0]
    assert (caught.value.provider_code, caught.value.user_message, caught.value.retryable) == (code, message, True)


async def test_retryable_codes_recover(make: Factory) -> None:
    client, delays, script = make(env(429), env(455, key='message'), env(500), env(data=record(successFlag=0)))
    assert (await client.record_info('t1')).state is TaskState.GENERATING
    assert len(script.requests) == 4 and len(delays) == 3


async def test_last_error_is_the_one_raised(make: Factory) -> None:
    client, _, _ = make(env(500), env(455), httpx.ConnectError('refused'), retries=2)
    with pytest.raises(ProviderUnavailable) as caught:
        await client.credit()
    assert caught.value.provider_code is None and 'ConnectError' in (caught.value.detail or '')


@pytest.mark.parametrize('status, cls', [(502, ProviderUnavailable), (503, ProviderUnavailable),
                                         (429, ProviderRateLimited)])
async def test_http_errors_without_envelope_are_retried(make: Factory, status: int,
                                                       cls: type[ProviderError]) -> None:
    client, delays, _ = make(httpx.Response(status, text='<html>Bad gateway</html>'), retries=2)
    with pytest.raises(cls) as caught:
        await client.credit()
    assert caught.value.provider_code == status and len(delays) == 2


async def test_http_401_with_envelope_is_rejected_once(make: Factory) -> None:
    client, delays, _ = make(env(401, message='bad key', status=401))
    with pytest.raises(ProviderRejected) as caught:
        await client.credit()
    assert caught.value.provider_code == 401 and delays == []


@pytest.mark.parametrize('key', ['msg', 'message'])
async def test_provider_message_under_either_key_reaches_the_detail(make: Factory, key: str) -> None:
    client, _, _ = make(env(422, key=key, message='numImages out of range'))
    with pytest.raises(ProviderRejected) as caught:
        await client.credit()
    assert 'numImages out of range' in (caught.value.detail or '')


@pytest.mark.parametrize('error', [httpx.ConnectError('refused'), httpx.ReadTimeout('slow'),
                                   httpx.RemoteProtocolError('eof')])
async def test_transport_errors_on_reads_are_retried(make: Factory, error: Exception) -> None:
    client, delays, _ = make(error, env(data=12.5))
    assert await client.credit() == 12.5 and delays == [0.5]


async def test_malformed_json_is_retried_on_reads(make: Factory) -> None:
    client, delays, _ = make(httpx.Response(200, text='{"code": 200, "msg": "succ'), env(data=3))
    assert await client.credit() == 3.0 and delays == [0.5]


async def test_malformed_json_exhausted_is_bad_response(make: Factory) -> None:
    client, delays, _ = make(httpx.Response(200, text='not json'), retries=1)
    with pytest.raises(ProviderBadResponse):
        await client.credit()
    assert len(delays) == 1


@pytest.mark.parametrize('reply', [httpx.ReadTimeout('slow'), httpx.Response(200, text='{"code": 2'),
                                   httpx.Response(200, json={'code': 200, 'msg': 'ok', 'data': {}})])
async def test_unconfirmed_submit_is_never_resent(make: Factory, reply: Reply) -> None:
    client, delays, script = make(reply, env(data={'taskId': 'second'}))
    with pytest.raises(ProviderError) as caught:
        await client.submit(GenerateRequest(prompt='p', callback_url='https://c'))
    assert len(script.requests) == 1 and delays == [] and caught.value.retryable is False


async def test_submit_retries_when_the_request_never_left(make: Factory) -> None:
    client, delays, script = make(httpx.ConnectError('refused'), env(500), env(data={'taskId': 'ok'}))
    assert await client.submit(GenerateRequest(prompt='p', callback_url='https://c')) == 'ok'
    assert len(script.requests) == 3 and delays == [0.5, 1.0]


@pytest.mark.parametrize('rng, base, cap, expected', [
    (1.0, 0.5, 30.0, [0.5, 1.0, 2.0, 4.0]),
    (0.0, 0.5, 30.0, [0.0, 0.0, 0.0, 0.0]),
    (0.5, 1.0, 3.0, [0.5, 1.0, 1.5, 1.5]),
])
async def test_backoff_is_exponential_with_full_jitter(make: Factory, rng: float, base: float, cap: float,
                                                       expected: list[float]) -> None:
    client, delays, _ = make(env(500), rng=lambda: rng, backoff_base=base, backoff_max=cap)
    with pytest.raises(ProviderUnavailable):
        await client.credit()
    assert delays == expected


@pytest.mark.parametrize('header, expected', [('3', 3.0), ('100', 30.0), ('soon', 0.0)])
async def test_retry_after_is_honoured_and_capped(make: Factory, header: str, expected: float) -> None:
    client, delays, _ = make(env(429, headers={'Retry-After': header}), env(data=1), rng=lambda: 0.0)
    assert await client.credit() == 1.0
    assert delays == [expected]


async def test_retry_after_http_date(make: Factory) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    client, delays, _ = make(httpx.Response(503, headers={'Retry-After': when}), env(data=1), rng=lambda: 0.0)
    await client.credit()
    assert 15.0 < delays[0] <= 20.0


async def test_on_retry_hooks_sync_and_async_and_warning_logs(make: Factory, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, float, int]] = []

    async def hook(error: ProviderError, delay: float, attempt: int) -> None:
        seen.append((type(error).__name__, delay, attempt))

    client, _, _ = make(env(429, message=KEY), env(500), env(data=1), on_retry=hook)
    with caplog.at_level(logging.DEBUG, logger='nanogen.provider.client'):
        await client.credit()
    assert seen == [('ProviderRateLimited', 0.5, 1), ('ProviderUnavailable', 1.0, 2)]
    assert [r.levelname for r in caplog.records if r.name == 'nanogen.provider.client'] == ['WARNING', 'WARNING']
    assert KEY not in caplog.text
    sync_seen: list[int] = []
    client, _, _ = make(env(455), env(data=1), on_retry=lambda e, d, n: sync_seen.append(n))
    await client.credit()
    assert sync_seen == [1]


async def test_api_key_never_appears_in_errors(make: Factory) -> None:
    replies: list[Reply] = [env(400, message=f'key {KEY} flagged'), httpx.Response(200, text=f'oops {KEY}'),
                            httpx.ConnectError(f'cannot reach with {KEY}'), httpx.Response(500, text=KEY)]
    for reply in replies:
        client, _, _ = make(reply, retries=0)
        with pytest.raises(ProviderError) as caught:
            await client.credit()
        assert_no_key(caught.value)


# --- reading tasks
DATA_URL = 'data:image/png;base64,' + base64.b64encode(PNG).decode()


@pytest.mark.parametrize('response, results, origins', [
    ({'resultImageUrl': 'https://r/1.png', 'originImageUrl': 'https://o/1.png'}, ('https://r/1.png',),
     ('https://o/1.png',)),
    ({'resultImageUrl': ['https://r/1.png', 'https://r/2.png'], 'originImageUrl': None},
     ('https://r/1.png', 'https://r/2.png'), ()),
    ({'resultUrls': ['https://r/a.png'], 'resultImageUrl': None}, ('https://r/a.png',), ()),
    ({'resultImageUrl': None, 'originImageUrl': 'https://o/only.png'}, (), ('https://o/only.png',)),
    ({'resultImageUrl': DATA_URL}, (DATA_URL,), ()),
    ({'resultImageUrl': base64.b64encode(PNG).decode()}, (base64.b64encode(PNG).decode(),), ()),
    (json.dumps({'resultImageUrl': 'https://r/s.png'}), ('https://r/s.png',), ()),
    (None, (), ()),
])
async def test_record_info_success_shapes(make: Factory, response: Any, results: tuple[str, ...],
                                          origins: tuple[str, ...]) -> None:
    data = record(successFlag=1, response=response, completeTime='2026-11-01T10:00:00Z')
    client, _, script = make(env(data=data))
    info = await client.record_info('t1')
    assert script.requests[0].url.params['taskId'] == 't1'
    assert (info.state, info.result_urls, info.origin_urls, info.raw) == (TaskState.SUCCESS, results, origins, data)


@pytest.mark.parametrize('flag, state', [(0, TaskState.GENERATING), (1, TaskState.SUCCESS), ('1', TaskState.SUCCESS),
                                         (2, TaskState.CREATE_FAILED), (3, TaskState.GENERATE_FAILED),
                                         (None, TaskState.GENERATING)])
async def test_record_info_states(make: Factory, flag: Any, state: TaskState) -> None:
    client, _, _ = make(env(data=record(successFlag=flag, createTime='yesterday-ish', completeTime=None)))
    assert (await client.record_info('t1')).state is state


async def test_record_info_failure_fields(make: Factory) -> None:
    client, _, _ = make(env(data=record(successFlag=3, errorCode=501, errorMessage='model crashed',
                                        createTime=1730000000)))
    info = await client.record_info('t1')
    assert (info.state, info.error_code, info.error_message) == (TaskState.GENERATE_FAILED, 501, 'model crashed')
    client, _, _ = make(env(data=record(successFlag=0, errorCode=0, errorMessage=None)))
    info = await client.record_info('t1')
    assert (info.error_code, info.error_message) == (None, '')


@pytest.mark.parametrize('data', [None, 'done', [1], record(successFlag=9), record(successFlag='yes')])
async def test_record_info_unreadable_data(make: Factory, data: Any) -> None:
    client, _, _ = make(env(data=data))
    with pytest.raises(ProviderBadResponse):
        await client.record_info('t1')


@pytest.mark.parametrize('data, expected', [(100, 100.0), (12.5, 12.5), ('42', 42.0), ({'credit': 5}, 5.0)])
async def test_credit_values(make: Factory, data: Any, expected: float) -> None:
    client, _, script = make(env(data=data))
    assert await client.credit() == expected
    assert str(script.requests[0].url) == f'{BASE}/api/v1/common/credit'


@pytest.mark.parametrize('data', [None, 'lots', True, [1]])
async def test_credit_garbage(make: Factory, data: Any) -> None:
    client, _, _ = make(env(data=data))
    with pytest.raises(ProviderBadResponse):
        await client.credit()


# --- callbacks
@pytest.mark.parametrize('body, succeeded, code, urls', [
    ({'code': 200, 'msg': 'Image generated successfully.', 'data': {'taskId': 't1', 'info': {
        'resultImageUrl': 'https://r/1.png'}}}, True, 200, ('https://r/1.png',)),
    ({'code': 400, 'msg': 'flagged', 'data': {'taskId': 't1', 'info': None}}, False, 400, ()),
    ({'code': 500, 'msg': 'internal', 'data': {'taskId': 't1'}}, False, 500, ()),
    ({'code': 501, 'message': 'failed', 'data': {'taskId': 't1', 'info': {}}}, False, 501, ()),
    ({'code': 200, 'msg': 'ok', 'data': record(successFlag=1, response={'resultImageUrl': ['https://r/a', 'https://r/b']})},
     True, 200, ('https://r/a', 'https://r/b')),
    ({'code': 200, 'msg': 'ok', 'data': record(successFlag=3, errorCode=501, errorMessage='boom')}, False, 501, ()),
    ({'code': 501, 'msg': 'failed', 'data': record(successFlag=3, errorCode=0)}, False, 501, ()),
    ({'code': 200, 'msg': 'ok', 'data': record(successFlag=0)}, None, 200, ()),
])
def test_parse_callback_shapes(body: dict[str, Any], succeeded: bool | None, code: int,
                               urls: tuple[str, ...]) -> None:
    for raw in (body, json.dumps(body), json.dumps(body).encode()):
        notice = NanobananaClient.parse_callback(raw)
        assert (notice.task_id, notice.succeeded, notice.code, notice.result_urls) == ('t1', succeeded, code, urls)
    failed = NanobananaClient.parse_callback(
        {'code': 200, 'data': record(successFlag=3, errorCode=501, errorMessage='boom')})
    assert failed.message == 'boom'


@pytest.mark.parametrize('body', ['not json', b'\xff\xfe', [], None, 7, {'data': None}, {'code': 200, 'data': {}},
                                  {'code': 200, 'data': {'taskId': ''}}, {'code': 200, 'data': {'taskId': True}},
                                  {'msg': 'x', 'data': {'taskId': 't1'}}])
def test_parse_callback_garbage(body: object) -> None:
    with pytest.raises(ProviderBadResponse):
        NanobananaClient.parse_callback(body)


# --- downloads
async def test_download_sends_bearer_only_to_the_service_host(make: Factory) -> None:
    client, _, script = make(httpx.Response(200, content=PNG))
    assert await client.download(f'{BASE}/files/1.png', max_bytes=10_000) == PNG
    assert await client.download('https://cdn.other.test/1.png?sig=abc', max_bytes=10_000) == PNG
    assert await client.download('https://api.nanobanana.test:8443/x.png', max_bytes=10_000) == PNG
    assert [r.headers.get('Authorization') for r in script.requests] == [f'Bearer {KEY}', None, None]


async def test_download_size_limit_streamed_and_declared(make: Factory) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield PNG
        yield PNG

    client, delays, _ = make(httpx.Response(200, content=chunks()))
    with pytest.raises(ProviderBadResponse) as caught:
        await client.download('https://cdn.test/big.png', max_bytes=len(PNG) + 10)
    assert caught.value.retryable is False and delays == []
    client, _, _ = make(httpx.Response(200, content=PNG, headers={'Content-Length': str(len(PNG))}))
    with pytest.raises(ProviderBadResponse):
        await client.download('https://cdn.test/big.png', max_bytes=len(PNG) - 1)
    assert await client.download('https://cdn.test/ok.png', max_bytes=len(PNG)) == PNG


async def test_download_http_errors(make: Factory) -> None:
    client, delays, script = make(httpx.Response(503), httpx.ReadTimeout('slow'), httpx.Response(200, content=PNG))
    assert await client.download('https://cdn.test/a.png', max_bytes=10_000) == PNG
    assert len(script.requests) == 3 and len(delays) == 2
    client, delays, _ = make(httpx.Response(404))
    with pytest.raises(ProviderRejected) as caught:
        await client.download('https://cdn.test/gone.png', max_bytes=10_000)
    assert caught.value.provider_code == 404 and delays == []


async def test_download_inline_images(make: Factory) -> None:
    client, _, script = make(httpx.Response(500))
    assert await client.download(DATA_URL, max_bytes=10_000) == PNG
    assert await client.download(base64.b64encode(PNG).decode(), max_bytes=10_000) == PNG
    assert await client.download(base64.urlsafe_b64encode(PNG).decode().rstrip('='), max_bytes=10_000) == PNG
    for bad in ('data:image/png,rawbytes', 'not base64 at all!', '', 'data:image/png;base64,'):
        with pytest.raises(ProviderBadResponse):
            await client.download(bad, max_bytes=10_000)
    with pytest.raises(ProviderBadResponse):
        await client.download(DATA_URL, max_bytes=100)
    assert script.requests == []
