"""REST API: listing and paging prompts and images, one image, deleting, /me and usage, docs and CORS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from nicegui.testing import User

from nanogen.models import Image, Prompt
from nanogen.ops import stats
from tests.integration.api_support import ApiUser, api_user, app_services, error_of

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def seed(api: ApiUser, n: int, *, start: datetime = T0, text: str = 'prompt', size: int = 1024,
               status: str = 'COMPLETED', favourite_every: int = 0) -> list[int]:
    """Rows as a finished generation leaves them (the files are not needed for listing)."""
    def work(s) -> list[int]:
        ids = []
        for k in range(n):
            at = start + timedelta(seconds=k // 2)  # pairs share a timestamp: the id must break the tie
            p = Prompt(user_id=api.id, prompt=f'{text} {k}', image_size=size, status=status, created_at=at,
                       cost=Decimal('0.0125') if status == 'COMPLETED' else Decimal(0), duration_ms=900 + k)
            s.add(p)
            s.flush()
            if status == 'COMPLETED':
                image = Image(user_id=api.id, prompt_id=p.id, key=f'k{p.id}', original_key='o', thumb_key='t',
                              width=size, height=size, created_at=at,
                              is_favourite=bool(favourite_every) and k % favourite_every == 0)
                s.add(image)
                s.flush()
                ids.append(image.id)
            else:
                ids.append(p.id)
        s.commit()
        return ids
    return await app_services().db.write(work)


async def pages(api: ApiUser, url: str, **params: object) -> list[dict]:
    items, cursor = [], None
    for _ in range(100):
        r = await api.get(url, params={**params, **({'cursor': cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()['data']['items']
        cursor = r.json()['data']['next_cursor']
        if cursor is None:
            return items
    raise AssertionError('never ended')


async def test_image_pages_neither_skip_nor_repeat_while_new_images_arrive(user: User) -> None:
    api = await api_user(user)
    ids = await seed(api, 23)
    seen, cursor, extra = [], None, 0
    while True:
        r = await api.get('/api/v1/images', params={'limit': 5, **({'cursor': cursor} if cursor else {})})
        body = r.json()['data']
        seen += [i['id'] for i in body['items']]
        await seed(api, 2, start=T0 + timedelta(days=1, minutes=extra), text='newer')  # generated meanwhile
        extra += 1
        if not (cursor := body['next_cursor']):
            break
    assert seen == sorted(ids, reverse=True)
    item = body['items'][-1]
    assert item['prompt'] == 'prompt 0' and item['cost'] == '0.0125'
    assert item['files']['thumb'].endswith(f'/api/v1/images/{item["id"]}/file?variant=thumb')
    oldest = await pages(api, '/api/v1/images', sort='oldest', limit=7)
    assert len(oldest) == len({i['id'] for i in oldest}) == 23 + 2 * extra
    assert oldest[0]['id'] == ids[0]


async def test_image_filters(user: User) -> None:
    api = await api_user(user)
    await seed(api, 6, text='a fox', size=512, favourite_every=3)
    await seed(api, 3, text='a whale', start=T0 + timedelta(days=2))
    assert len(await pages(api, '/api/v1/images', q='FOX')) == 6
    assert len(await pages(api, '/api/v1/images', favourites='true')) == 2
    assert len(await pages(api, '/api/v1/images', size=1024)) == 3
    assert len(await pages(api, '/api/v1/images', aspect_ratio='16:9')) == 0
    assert len(await pages(api, '/api/v1/images', date_from='2026-03-02T00:00:00Z')) == 3
    assert len(await pages(api, '/api/v1/images', date_to='2026-03-02')) == 6  # a date alone is midnight UTC


async def test_prompt_list_filters_sorts_and_pages(user: User) -> None:
    api = await api_user(user)
    done = await seed(api, 7, text='done')
    failed = await seed(api, 3, text='failed', status='FAILED', start=T0 + timedelta(hours=1))
    everything = await pages(api, '/api/v1/prompts', limit=3)
    assert len(everything) == 10 and everything[0]['prompt'] == 'failed 2' and everything[0]['image_ids'] == []
    assert everything[-1]['image_ids'] == [done[0]] and everything[-1]['images'] == []
    assert {p['id'] for p in await pages(api, '/api/v1/prompts', status='FAILED', limit=2)} == set(failed)
    by_duration = await pages(api, '/api/v1/prompts', sort='duration', limit=4)
    assert [p['duration_ms'] for p in by_duration] == sorted((p['duration_ms'] for p in by_duration), reverse=True)
    by_cost = await pages(api, '/api/v1/prompts', sort='cost', limit=4)
    assert [p['cost'] for p in by_cost[:7]] == ['0.0125'] * 7 and len(by_cost) == 10
    assert len(await pages(api, '/api/v1/prompts', q='fail', size=1024)) == 3


@pytest.mark.parametrize(('url', 'params', 'field'), [
    ('/api/v1/images', {'limit': 0}, 'limit'),
    ('/api/v1/images', {'limit': 201}, 'limit'),
    ('/api/v1/images', {'limit': 'ten'}, 'limit'),
    ('/api/v1/images', {'cursor': 'not-a-cursor'}, 'cursor'),
    ('/api/v1/images', {'size': 1000}, 'size'),
    ('/api/v1/images', {'aspect_ratio': '1:7'}, 'aspect_ratio'),
    ('/api/v1/images', {'favourites': 'maybe'}, 'favourites'),
    ('/api/v1/images', {'date_from': 'yesterday'}, 'date_from'),
    ('/api/v1/images', {'date_from': '2026-03-02', 'date_to': '2026-03-01'}, 'date_from'),
    ('/api/v1/images', {'sort': 'random'}, 'sort'),
    ('/api/v1/images', {'q': 'x' * 201}, 'q'),
    ('/api/v1/images', {'q': 'fox\x00'}, 'q'),
    ('/api/v1/prompts', {'status': 'DONE'}, 'status'),
    ('/api/v1/prompts', {'sort': 'size'}, 'sort'),
    ('/api/v1/prompts', {'cursor': 'WyJpIiwibmV3ZXN0IiwiMjAyNi0wMy0wMSIsMV0'}, 'cursor'),  # an images cursor
    ('/api/v1/prompts/abc', {}, 'prompt_id'),
    ('/api/v1/prompts/0', {}, 'prompt_id'),
    ('/api/v1/prompts/99999999999999999999', {}, 'prompt_id'),
    ('/api/v1/images/-1', {}, 'image_id'),
    ('/api/v1/images/1/file', {'variant': 'huge'}, 'variant'),
    ('/api/v1/me/usage', {'period': 'week'}, 'period'),
    ('/api/v1/me/usage', {'date_from': '2020-01-01', 'date_to': '2026-01-01'}, 'date_from'),
    ('/api/v1/me/usage', {'date_from': '0001-01-01T00:00:00+14:00'}, 'date_from'),
])
async def test_each_bad_query_is_422_naming_the_field(user: User, url: str, params: dict, field: str) -> None:
    api = await api_user(user)
    error = error_of(await api.get(url, params=params), 422)
    assert error['code'] == 'invalid_input' and error['field'] == field, error


async def test_get_and_delete_one_image(user: User) -> None:
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', params={'wait': 20}, json={'prompt': 'a tiny boat',
                                                                                     'size': 512}, timeout=30)
    image_id = r.json()['data']['image_ids'][0]
    one = await api.get(f'/api/v1/images/{image_id}')
    assert one.status_code == 200 and one.json()['data']['prompt'] == 'a tiny boat'
    assert (await api.get(f'/api/v1/images/{image_id}/file', params={'variant': 'original'})).status_code == 200
    gone = await api.client.delete(f'/api/v1/images/{image_id}')
    body = gone.json()['data']  # undo_until: the gallery's undo semantics (test_one_delete_path.py)
    assert gone.status_code == 200 and body == {'id': image_id, 'deleted': True, 'undo_until': body['undo_until']}
    assert body['undo_until']
    assert error_of(await api.get(f'/api/v1/images/{image_id}'), 404)['code'] == 'not_found'
    assert error_of(await api.client.delete(f'/api/v1/images/{image_id}'), 404)['code'] == 'not_found'
    assert (await api.get('/api/v1/images')).json()['data']['items'] == []


async def test_me_and_usage_by_day_and_month(user: User) -> None:
    api = await api_user(user)
    me = (await api.get('/api/v1/me')).json()['data']
    assert me['id'] == api.id and me['email'] == 'ada@example.com' and me['via_token'] is True
    await seed(api, 4)                                                  # 2026-03-01: 4 completed
    await seed(api, 2, status='FAILED', start=T0 + timedelta(days=1))   # 2026-03-02: 2 failed
    await seed(api, 1, start=datetime(2026, 4, 5, tzinfo=UTC))          # April
    window = {'date_from': '2026-03-01T00:00:00Z', 'date_to': '2026-05-01T00:00:00Z'}
    by_day = (await api.get('/api/v1/me/usage', params={'period': 'day', **window})).json()['data']
    assert [(b['period_start'][:10], b['prompts'], b['completed'], b['failed'], b['images'], b['spend'])
            for b in by_day['buckets']] == [('2026-03-01', 4, 4, 0, 4, '0.05'), ('2026-03-02', 2, 0, 2, 0, '0'),
                                            ('2026-04-05', 1, 1, 0, 1, '0.0125')]
    assert by_day['totals']['spend'] == '0.0625' and by_day['totals']['prompts'] == 7
    by_month = (await api.get('/api/v1/me/usage', params={'period': 'month', **window})).json()['data']
    assert [(b['period_start'][:7], b['prompts'], b['spend']) for b in by_month['buckets']] == [
        ('2026-03', 6, '0.05'), ('2026-04', 1, '0.0125')]
    default = (await api.get('/api/v1/me/usage')).json()['data']  # the last 30 days: the seed is older
    assert default['period'] == 'day' and default['buckets'] == [] and default['totals']['spend'] == '0'
    bob = await api_user(user, 'bob@example.com')
    assert (await bob.get('/api/v1/me/usage', params=window)).json()['data']['buckets'] == []


async def test_usage_in_the_api_and_on_the_analytics_page_agree_after_a_delete(user: User) -> None:
    """Issue 13: one usage count. Deleting an image does not rewrite history: /me/usage and the Analytics page's
    days (ops.stats.daily) give the same prompts, images and spend for the day, before and after."""
    api = await api_user(user)
    first, _second = await seed(api, 2)  # 2026-03-01: 2 completed, one image each
    window = {'period': 'day', 'date_from': '2026-03-01T00:00:00Z', 'date_to': '2026-03-02T00:00:00Z'}
    services = app_services()

    async def both() -> tuple[tuple[int, int, str], tuple[int, int, str]]:
        (bucket,) = (await api.get('/api/v1/me/usage', params=window)).json()['data']['buckets']
        (day,) = await stats.daily(services.db, api.id, date_from=T0.date(), date_to=T0.date())
        return (bucket['prompts'], bucket['images'], bucket['spend']), (day.prompts, day.images, str(day.spend))
    api_before, page_before = await both()
    assert api_before == (2, 2, '0.025') and page_before == (2, 2, '0.025000')
    await services.library.delete_images(api.id, [first], undo_window_s=0)  # hidden and purged now
    assert await both() == (api_before, page_before)


async def test_the_openapi_schema_documents_every_route_model_and_error(user: User) -> None:
    api = await api_user(user)
    schema = (await api.get('/api/openapi.json')).json()
    assert set(schema['paths']) == {'/api/v1/images/generate', '/api/v1/images/generate/upload',
                                    '/api/v1/prompts', '/api/v1/prompts/{prompt_id}',
                                    '/api/v1/images', '/api/v1/images/{image_id}', '/api/v1/images/{image_id}/file',
                                    '/api/v1/images/{image_id}/restore', '/api/v1/me', '/api/v1/me/usage',
                                    '/api/v1/models', '/api/v1/images/{image_id}/edit', '/api/v1/images/{image_id}/edit/upload',
                                    '/api/v1/images/{image_id}/versions',
                                    '/api/v1/boards', '/api/v1/boards/{board_id}', '/api/v1/boards/{board_id}/images',
                                    '/api/v1/boards/{board_id}/images/{image_id}', '/api/v1/boards/{board_id}/share',
                                    '/api/v1/boards/{board_id}/links', '/api/v1/boards/{board_id}/links/{link_id}',
                                    '/api/v1/tags', '/api/v1/images/{image_id}/tags', '/api/v1/images/{image_id}/rating',
                                    '/api/v1/webhooks', '/api/v1/webhooks/{webhook_id}',
                                    '/api/v1/webhooks/{webhook_id}/test', '/api/v1/webhooks/{webhook_id}/deliveries',
                                    '/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver',
                                    '/api/v1/batches', '/api/v1/batches/upload', '/api/v1/batches/{batch_id}',
                                    '/api/v1/batches/{batch_id}/pause', '/api/v1/batches/{batch_id}/resume',
                                    '/api/v1/batches/{batch_id}/cancel', '/api/v1/batches/{batch_id}/retry-failed',
                                    '/api/v1/batches/{batch_id}/zip', '/api/v1/batches/{batch_id}/board',
                                    '/api/v1/groups', '/api/v1/groups/{group_id}', '/api/v1/groups/{group_id}/members',
                                    '/api/v1/groups/{group_id}/members/{user_id}', '/api/v1/groups/{group_id}/policy'}
    for path, operations in schema['paths'].items():
        for method, op in operations.items():
            assert {'401', '422', '429'} <= set(op['responses']), (path, method)
            assert op['summary'] and op['security'], (path, method)
    generate = schema['paths']['/api/v1/images/generate']['post']
    assert {'200', '201', '202', '402', '409', '413'} <= set(generate['responses'])
    assert 'Idempotency-Key' in [p['name'] for p in generate['parameters']]
    models = schema['components']['schemas']
    assert models['GenerateIn']['example']['prompt'] and models['ErrorEnvelope']['example']['error']['field']
    assert 'ImageOut' in models and 'PromptOut' in models and 'UsageOut' in models
    assert schema['components']['securitySchemes']['HTTPBearer']['scheme'] == 'bearer'
    docs = await api.get('/api/docs')
    assert docs.status_code == 200 and '/api/openapi.json' in docs.text


@pytest.fixture
def cors_origin(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv('NANOGEN_CORS_ORIGINS', 'https://notebooks.example.com')
    return 'https://notebooks.example.com'


async def test_cors_allows_only_the_configured_origins(cors_origin: str, user: User) -> None:
    api = await api_user(user)
    preflight = {'Access-Control-Request-Method': 'POST',
                 'Access-Control-Request-Headers': 'authorization,content-type,idempotency-key'}
    ok = await user.http_client.options('/api/v1/images/generate', headers={'Origin': cors_origin, **preflight})
    assert ok.status_code == 200 and ok.headers['access-control-allow-origin'] == cors_origin
    bad = await user.http_client.options('/api/v1/images/generate',
                                         headers={'Origin': 'https://evil.example', **preflight})
    assert bad.status_code == 400 and 'access-control-allow-origin' not in bad.headers
    r = await api.get('/api/v1/me', headers={'Origin': cors_origin})
    assert r.headers['access-control-allow-origin'] == cors_origin


async def test_without_cors_origins_no_cross_origin_header_is_sent(user: User) -> None:
    api = await api_user(user)
    r = await api.get('/api/v1/me', headers={'Origin': 'https://notebooks.example.com'})
    assert r.status_code == 200 and 'access-control-allow-origin' not in r.headers
