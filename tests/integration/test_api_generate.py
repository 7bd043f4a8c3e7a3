"""REST API: generating, following and cancelling prompts; idempotent retries; limits on requests and bodies."""

from __future__ import annotations

import asyncio

import pytest
from nicegui.testing import User

from tests.integration.api_support import api_user, app_services, error_of, prompt_count, wait_finished
from tests.ui.helpers import sign_in

GOOD = {'prompt': 'a red fox in fresh snow', 'size': 512, 'aspect_ratio': '16:9', 'num_images': 2,
        'watermark': 'ACME'}


async def test_generate_answers_202_at_once_then_the_prompt_completes_with_files(user: User) -> None:
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', json=GOOD)
    assert r.status_code == 202, r.text
    data = r.json()['data']
    assert r.json()['success'] is True and r.json()['error'] is None
    assert data['status'] in ('PENDING', 'PROCESSING') and data['estimated_cost'] == '0.01'
    assert data['status_url'] == f'http://test/api/v1/prompts/{data["id"]}'
    assert r.headers['location'] == f'/api/v1/prompts/{data["id"]}'
    done = await wait_finished(api, data['id'])
    assert done['status'] == 'COMPLETED' and done['cost'] == '0.01' and done['duration_ms'] > 0
    assert len(done['image_ids']) == 2 and [i['position'] for i in done['images']] == [0, 1]
    image = done['images'][0]
    assert (image['width'], image['height']) == (512, 288) and image['watermark'] == 'ACME'
    f = await api.get(image['files']['image'])
    assert f.status_code == 200 and f.headers['content-type'] == 'image/png' and f.content[:4] == b'\x89PNG'
    thumb = await api.get(f'/api/v1/images/{image["id"]}/file', params={'variant': 'thumb', 'download': True})
    assert thumb.headers['content-type'] == 'image/webp' and 'attachment' in thumb.headers['content-disposition']
    again = await api.get(image['files']['image'], headers={'If-None-Match': f.headers['etag']})
    assert again.status_code == 304


async def test_generate_with_wait_returns_the_result_in_the_same_request(user: User) -> None:
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', params={'wait': 20}, json={'prompt': 'a blue whale'},
                              timeout=30)
    assert r.status_code == 201, r.text
    data = r.json()['data']
    assert data['status'] == 'COMPLETED' and len(data['images']) == 1 and data['images'][0]['width'] == 1024


async def test_a_retry_with_the_same_idempotency_key_makes_no_second_generation(user: User) -> None:
    api = await api_user(user)
    headers = {'Idempotency-Key': 'nightly-batch-42'}
    first = await api.client.post('/api/v1/images/generate', json=GOOD, headers=headers)
    assert first.status_code == 202 and 'idempotent-replayed' not in first.headers
    # a burst of retries, as a flaky network and an impatient script make them
    retries = await asyncio.gather(*[api.client.post('/api/v1/images/generate', json=GOOD, headers=headers)
                                     for _ in range(5)])
    assert {r.status_code for r in retries} == {200}
    assert {r.json()['data']['id'] for r in retries} == {first.json()['data']['id']}
    assert all(r.headers['idempotent-replayed'] == 'true' for r in retries)
    assert await prompt_count() == 1
    other = await api.client.post('/api/v1/images/generate', json={**GOOD, 'prompt': 'something else'},
                                  headers=headers)
    assert error_of(other, 409)['code'] == 'conflict'
    # the key is per user: someone else's identical key is their own, new generation
    bob = await api_user(user, 'bob@example.com')
    theirs = await bob.client.post('/api/v1/images/generate', json=GOOD, headers=headers)
    assert theirs.status_code == 202 and theirs.json()['data']['id'] != first.json()['data']['id']


@pytest.mark.parametrize(('body', 'params', 'field'), [
    ({'size': 512}, {}, 'prompt'),                                   # missing prompt
    ({'prompt': ''}, {}, 'prompt'),                                  # empty
    ({'prompt': 'ab'}, {}, 'prompt'),                                # too short (our rule)
    ({'prompt': 'x' * 2001}, {}, 'prompt'),                          # over NANOGEN_PROMPT_MAX_LENGTH
    ({'prompt': 'a fox\x00'}, {}, 'prompt'),                         # control character
    ({'prompt': 'a fox', 'size': 1000}, {}, 'size'),
    ({'prompt': 'a fox', 'size': '1024'}, {}, 'size'),               # a string is not a size
    ({'prompt': 'a fox', 'aspect_ratio': '7:3'}, {}, 'aspect_ratio'),
    ({'prompt': 'a fox', 'num_images': 5}, {}, 'num_images'),
    ({'prompt': 'a fox', 'num_images': 0}, {}, 'num_images'),
    ({'prompt': 'a fox', 'watermark': 'w' * 101}, {}, 'watermark'),
    ({'prompt': 'a fox', 'reference_image_urls': ['ftp://x/y.png']}, {}, 'reference_image_urls'),
    ({'prompt': 'a fox', 'reference_image_urls': ['https://x/a.png'] * 5}, {}, 'reference_image_urls'),
    ({'prompt': 'a fox', 'colour': 'red'}, {}, 'colour'),            # unknown field: a typo, not ignored
    ({'prompt': 'a fox'}, {'wait': 61}, 'wait'),
    ({'prompt': 'a fox'}, {'wait': -1}, 'wait'),
    ({'prompt': 'a fox'}, {'wait': 'soon'}, 'wait'),
])
async def test_each_bad_generate_input_is_422_naming_the_field_and_stores_nothing(
        user: User, body: dict, params: dict, field: str) -> None:
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', json=body, params=params)
    error = error_of(r, 422)
    assert error['code'] == 'invalid_input' and error['field'].startswith(field), error
    assert field in error['message'] or error['message'][0].isupper()
    assert await prompt_count() == 0


async def test_a_body_that_is_not_json_or_too_large_is_refused_with_an_envelope(user: User) -> None:
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', content=b'{"prompt": ', headers={
        'content-type': 'application/json'})
    assert error_of(r, 422)['code'] == 'invalid_input'
    huge = await api.client.post('/api/v1/images/generate', json={'prompt': 'x' * (1024 * 1024 + 10)})
    assert error_of(huge, 413)['code'] == 'payload_too_large'

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(20):
            yield b'x' * 100_000
    chunked = await api.client.post('/api/v1/images/generate', content=chunks(),
                                    headers={'content-type': 'application/json'})
    assert error_of(chunked, 413)['code'] == 'payload_too_large'


async def test_status_and_cancel_of_a_running_prompt_and_of_an_ended_one(user: User) -> None:
    api = await api_user(user)
    created = (await api.client.post('/api/v1/images/generate', json={'prompt': 'a slow snail'})).json()['data']
    for _ in range(100):  # once submitted: cancelling mid-submit races the service (reported to the lead)
        if (await api.get(f'/api/v1/prompts/{created["id"]}')).json()['data']['status'] == 'PROCESSING':
            break
        await asyncio.sleep(0.02)
    r = await api.client.delete(f'/api/v1/prompts/{created["id"]}')
    assert r.status_code == 200, r.text
    assert r.json()['data']['status'] == 'CANCELLED' and r.json()['data']['error_message'] == 'Cancelled by you.'
    again = await api.client.delete(f'/api/v1/prompts/{created["id"]}')
    error = error_of(again, 422)
    assert error['field'] == 'status' and 'already ended' in error['message']
    status = await api.get(f'/api/v1/prompts/{created["id"]}')
    assert status.json()['data']['status'] == 'CANCELLED'


async def test_another_users_ids_are_404_like_missing_ones(user: User) -> None:
    ada = await api_user(user)
    bob = await api_user(user, 'bob@example.com')
    done = (await ada.client.post('/api/v1/images/generate', params={'wait': 20}, json={'prompt': 'ada only'},
                                  timeout=30)).json()['data']
    image_id = done['image_ids'][0]
    for method, url in [('GET', f'/api/v1/prompts/{done["id"]}'), ('DELETE', f'/api/v1/prompts/{done["id"]}'),
                        ('GET', f'/api/v1/images/{image_id}'), ('GET', f'/api/v1/images/{image_id}/file'),
                        ('DELETE', f'/api/v1/images/{image_id}'), ('GET', '/api/v1/prompts/999999'),
                        ('GET', '/api/v1/images/999999/file?variant=original')]:
        r = await bob.client.request(method, url)
        assert error_of(r, 404)['code'] == 'not_found', (method, url)
    assert (await bob.get('/api/v1/images')).json()['data']['items'] == []
    assert (await bob.get('/api/v1/prompts')).json()['data']['items'] == []
    assert (await ada.get(f'/api/v1/images/{image_id}')).status_code == 200  # still there for its owner


@pytest.mark.parametrize(('method', 'url'), [
    ('POST', '/api/v1/images/generate'), ('GET', '/api/v1/prompts/1'), ('DELETE', '/api/v1/prompts/1'),
    ('GET', '/api/v1/prompts'), ('GET', '/api/v1/images'), ('GET', '/api/v1/images/1'),
    ('GET', '/api/v1/images/1/file'), ('DELETE', '/api/v1/images/1'), ('GET', '/api/v1/me'),
    ('GET', '/api/v1/me/usage'), ('GET', '/api/docs'), ('GET', '/api/openapi.json')])
async def test_every_endpoint_is_401_without_a_session_or_with_a_bad_token(user: User, method: str, url: str) -> None:
    await api_user(user)  # a valid token exists; none is sent
    for headers in ({}, {'Authorization': 'Bearer ngk_not-a-real-token'}, {'Authorization': 'Basic YTpi'}):
        r = await user.http_client.request(method, url, json={'prompt': 'a fox'} if method == 'POST' else None,
                                           headers=headers)
        assert error_of(r, 401)['code'] == 'unauthorized'


async def test_a_signed_in_session_works_without_a_token(user: User) -> None:
    await sign_in(user, name='Ada', email='ada@example.com')
    r = await user.http_client.get('/api/v1/me')
    assert r.status_code == 200, r.text
    assert r.json()['data']['email'] == 'ada@example.com' and r.json()['data']['via_token'] is False
    docs = await user.http_client.get('/api/docs')
    assert docs.status_code == 200 and 'swagger' in docs.text.lower()


@pytest.fixture
def low_rate(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv('NANOGEN_API_RATE_PER_MINUTE', '6')  # before `user` loads the app
    return 6


async def test_the_request_rate_limit_answers_429_with_retry_after(low_rate: int, user: User) -> None:
    api = await api_user(user)
    statuses = [(await api.get('/api/v1/me')).status_code for _ in range(low_rate)]
    assert statuses == [200] * low_rate  # up to the per-minute rate is fine
    r = await api.get('/api/v1/me')
    error = error_of(r, 429)
    # one-minute windows (limits' fixed window): come back when the window ends, at most a minute away
    assert error['code'] == 'rate_limited' and 1 <= int(r.headers['retry-after']) <= 60
    assert 'limit is 6 a minute' in error['message']
    other = await api_user(user, 'bob@example.com')  # per user: someone else is unaffected
    assert (await other.get('/api/v1/me')).status_code == 200


async def test_too_many_running_generations_is_429_with_retry_after(user: User) -> None:
    api = await api_user(user)
    limit = app_services().settings.max_concurrent_per_user
    for n in range(limit):
        assert (await api.client.post('/api/v1/images/generate', json={'prompt': f'fox {n}'})).status_code == 202
    r = await api.client.post('/api/v1/images/generate', json={'prompt': 'one too many'})
    assert error_of(r, 429)['code'] == 'rate_limited' and r.headers['retry-after'] == '5'
    for prompt in (await api.get('/api/v1/prompts', params={'limit': 200})).json()['data']['items']:
        await api.client.delete(f'/api/v1/prompts/{prompt["id"]}')


@pytest.fixture
def prompt_limit_50(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_PROMPT_MAX_LENGTH', '50')  # read when the `user` fixture loads the app


async def test_the_api_honours_the_configured_prompt_length_limit(prompt_limit_50: None, user: User) -> None:
    """Issue 13 item 4: NANOGEN_PROMPT_MAX_LENGTH reaches the API, not just the page: with it at 50, a 51-character
    prompt is a 422 naming the limit and stores nothing, and a 50-character one is accepted."""
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', json={'prompt': 'x' * 51})
    error = error_of(r, 422)
    assert error['field'] == 'prompt'
    assert error['message'] == 'The prompt is too long: 51 characters, the limit is 50.'
    assert await prompt_count() == 0
    ok = await api.client.post('/api/v1/images/generate', json={'prompt': 'y' * 50})
    assert ok.status_code == 202, ok.text
    assert await prompt_count() == 1
