"""Tags, ratings and the /api/v1/images filters over HTTP (issue 16): a script tags and rates its images, reads them
back on the image itself, and finds them again by tag, stars, board, model, resolution, size, ratio, date range and
cost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from nicegui.testing import User

from nanogen.models import Image, utcnow
from tests.integration.api_support import ApiUser, api_user, app_services, error_of, wait_finished


async def generate(api: ApiUser, **body: Any) -> int:
    made = await api.client.post('/api/v1/images/generate', json={'prompt': 'a test image', **body})
    assert made.status_code == 202, made.text
    done = await wait_finished(api, made.json()['data']['id'], timeout=30)
    assert done['status'] == 'COMPLETED', done
    (image_id,) = done['image_ids']
    return int(image_id)


async def found(api: ApiUser, **params: Any) -> list[int]:
    r = await api.get('/api/v1/images', params=params)
    assert r.status_code == 200, r.text
    return sorted(item['id'] for item in r.json()['data']['items'])


async def test_tags_and_stars_are_set_read_back_on_the_image_and_filter_the_list(user: User) -> None:
    ada = await api_user(user, 'ada@example.com')
    bob = await api_user(user, 'bob@example.com')
    fox = await generate(ada, prompt='a fox', size=512)
    whale = await generate(ada, prompt='a whale', size=512, aspect_ratio='16:9')
    (await generate(bob, prompt='bob tags his own', size=512))

    tagged = await ada.client.put(f'/api/v1/images/{fox}/tags', json={'tags': ['Zine', 'forest', 'zine']})
    assert tagged.json()['data'] == {'tags': ['forest', 'zine']}
    assert (await ada.client.put(f'/api/v1/images/{whale}/tags', json={'tags': ['zine']})).status_code == 200
    assert (await ada.client.put(f'/api/v1/images/{fox}/rating', json={'stars': 5})).json()['data'] == {'stars': 5}
    assert (await ada.client.put(f'/api/v1/images/{whale}/rating', json={'stars': 2})).status_code == 200
    assert (await ada.get(f'/api/v1/images/{fox}/rating')).json()['data'] == {'stars': 5}
    assert (await ada.get(f'/api/v1/images/{fox}/tags')).json()['data'] == {'tags': ['forest', 'zine']}

    one = (await ada.get(f'/api/v1/images/{fox}')).json()['data']
    assert (one['tags'], one['rating']) == (['forest', 'zine'], 5)
    items = {i['id']: (i['tags'], i['rating']) for i in (await ada.get('/api/v1/images')).json()['data']['items']}
    assert items == {fox: (['forest', 'zine'], 5), whale: (['zine'], 2)}

    assert await found(ada, tag='zine') == sorted([fox, whale])
    assert await found(ada, tag=['ZINE', 'forest']) == [fox]  # every tag named, case-insensitively
    assert await found(ada, tag='nope') == []
    assert await found(ada, min_rating=4) == [fox]
    assert await found(ada, min_rating=2) == sorted([fox, whale])
    assert (await ada.get('/api/v1/tags', params={'prefix': 'f'})).json()['data'] == ['forest']

    cleared = await ada.client.put(f'/api/v1/images/{whale}/rating', json={'stars': None})
    assert cleared.json()['data'] == {'stars': None}
    assert (await ada.get(f'/api/v1/images/{whale}')).json()['data']['rating'] is None
    assert error_of(await ada.client.put(f'/api/v1/images/{fox}/rating', json={'stars': 6}), 422)
    assert error_of(await ada.client.put(f'/api/v1/images/{fox}/tags', json={'tags': ['<b>']}), 422)['field'] == 'tags'
    for method, path, body in (('GET', 'tags', None), ('PUT', 'tags', {'tags': ['mine']}), ('GET', 'rating', None),
                               ('PUT', 'rating', {'stars': 1})):  # Bob: Ada's image does not exist for him
        assert error_of(await bob.client.request(method, f'/api/v1/images/{fox}/{path}', json=body), 404)
    assert await found(bob, tag='zine') == [] and await found(bob, tag='mine') == []


async def test_the_list_filters_by_board_model_resolution_ratio_date_range_and_cost(user: User) -> None:
    ada = await api_user(user, 'ada@example.com')
    fox = await generate(ada, prompt='a fox', size=512)  # $0.0125
    whale = await generate(ada, prompt='a whale', model='nanobanana-pro', resolution='1K', aspect_ratio='16:9')  # $0.09
    kite = await generate(ada, prompt='a kite', model='nanobanana-2', resolution='2K')  # $0.06

    board = (await ada.client.post('/api/v1/boards', json={'name': 'Sea'})).json()['data']
    assert (await ada.client.post(f"/api/v1/boards/{board['id']}/images", json={'image_ids': [whale]})).status_code \
        in (200, 201)
    assert await found(ada, board_id=board['id']) == [whale]

    assert await found(ada, model='nanobanana-pro') == [whale]
    # Resolution for Pro and 2; a pixel size is Nano Banana's only (Pro and 2 store a placeholder 1024).
    assert await found(ada, resolution='1K') == [whale]
    assert await found(ada, resolution='2K') == [kite]
    assert await found(ada, resolution='4K') == []
    assert await found(ada, size=1024) == []
    assert await found(ada, size=512) == [fox]
    assert error_of(await ada.get('/api/v1/images', params={'resolution': '8K'}), 422)
    shown = {i['id']: (i['model'], i['resolution']) for i in (await ada.get('/api/v1/images')).json()['data']['items']}
    assert shown == {fox: ('nanobanana', None), whale: ('nanobanana-pro', '1K'), kite: ('nanobanana-2', '2K')}
    assert await found(ada, model='nanobanana') == [fox]
    assert await found(ada, aspect_ratio='16:9') == [whale]
    assert await found(ada, aspect_ratio='1:1') == sorted([fox, kite])
    assert await found(ada, cost_min='0.05') == sorted([whale, kite])
    assert await found(ada, cost_min='0.05', cost_max='0.07') == [kite]
    assert await found(ada, cost_max='0.02') == [fox]
    assert error_of(await ada.get('/api/v1/images', params={'cost_min': '2', 'cost_max': '1'}), 422)

    old = utcnow() - timedelta(days=10)

    def age_the_fox(s) -> None:  # type: ignore[no-untyped-def]
        row = s.get(Image, fox)
        row.created_at = old
        s.add(row)
        s.commit()
    await app_services().db.write(age_the_fox)
    week_ago = (utcnow() - timedelta(days=7)).isoformat()
    assert await found(ada, date_from=week_ago) == sorted([whale, kite])
    assert await found(ada, date_to=week_ago) == [fox]
    assert await found(ada, date_from=(old - timedelta(days=1)).isoformat(), date_to=week_ago) == [fox]
    assert await found(ada, date_from=week_ago, model='nanobanana-2', aspect_ratio='1:1', cost_max='0.1') == [kite]


async def test_the_ratio_filter_takes_every_ratio_a_model_makes(user: User) -> None:
    """Nano Banana 2's 1:4, 1:8, 4:1, 8:1 and auto are filters too, in the API as in the gallery's select."""
    ada = await api_user(user, 'ada@example.com')
    banner = await generate(ada, prompt='a long banner', model='nanobanana-2', resolution='1K', aspect_ratio='8:1')
    tower = await generate(ada, prompt='a tall tower', model='nanobanana-2', resolution='1K', aspect_ratio='1:4')
    assert await found(ada, aspect_ratio='8:1') == [banner]
    assert await found(ada, aspect_ratio='1:4') == [tower]
    assert await found(ada, aspect_ratio='auto') == []
    assert error_of(await ada.get('/api/v1/images', params={'aspect_ratio': '7:1'}), 422)['field'] == 'aspect_ratio'
