"""/api/v1/boards over HTTP with personal tokens (issue 16): CRUD, add/remove, list, share, links; access rules."""

from __future__ import annotations

from nicegui.testing import User

from nanogen.models import Image, Prompt
from tests.integration.api_support import ApiUser, api_user, app_services, error_of
from tests.support.library import promote_admin


async def images_of(api: ApiUser, n: int) -> list[int]:
    def work(s) -> list[int]:  # type: ignore[no-untyped-def]
        prompt = Prompt(user_id=api.id, prompt='a board picture', status='COMPLETED')
        s.add(prompt)
        s.flush()
        rows = [Image(user_id=api.id, prompt_id=prompt.id, position=k, key=f'k{prompt.id}-{k}', original_key='o',
                      thumb_key='t') for k in range(n)]
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows]
    return await app_services().db.write(work)


async def test_boards_crud_add_remove_and_list_over_the_api(user: User) -> None:
    ada = await api_user(user)
    bob = await api_user(user, 'bob@example.com')
    first, second = await images_of(ada, 2)
    made = await ada.client.post('/api/v1/boards', json={'name': 'Moodboard', 'description': 'spring'})
    assert made.status_code == 201, made.text
    board = made.json()['data']
    assert (board['name'], board['role'], board['can_edit'], board['image_count']) == ('Moodboard', 'owner', True, 0)
    url = f"/api/v1/boards/{board['id']}"
    added = await ada.client.post(f'{url}/images', json={'image_ids': [first, second]})
    assert added.json()['data'] == {'added': [first, second]}
    listed = (await ada.get(f'{url}/images')).json()['data']
    assert sorted(i['id'] for i in listed['items']) == sorted([first, second])
    assert [b['id'] for b in (await ada.get('/api/v1/boards')).json()['data']] == [board['id']]
    renamed = await ada.client.patch(url, json={'name': 'Mood', 'cover_image_id': first})
    assert renamed.json()['data']['name'] == 'Mood' and renamed.json()['data']['cover_image_id'] == first
    removed = await ada.client.delete(f'{url}/images/{second}')
    assert removed.json()['data'] == {'removed': 1}
    assert error_of(await ada.client.post('/api/v1/boards', json={'name': '  '}), 422)['field'] == 'name'
    link = await ada.client.post(f'{url}/links', json={'expires_in_days': 7})
    assert link.status_code == 201 and '/b/' in link.json()['data']['url']

    # Bob: the same 404 as a missing board, for every route; nothing of Ada's changes.
    for method, path, body in (('GET', url, None), ('PATCH', url, {'name': 'x'}), ('DELETE', url, None),
                               ('GET', f'{url}/images', None), ('POST', f'{url}/images', {'image_ids': [first]}),
                               ('DELETE', f'{url}/images/{first}', None), ('PUT', f'{url}/share', {'group_id': None}),
                               ('POST', f'{url}/links', {}), ('DELETE', f"{url}/links/{link.json()['data']['id']}", None)):
        response = await bob.client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.status_code)
        assert 'spring' not in response.text
    assert (await bob.get('/api/v1/boards')).json()['data'] == []
    assert (await ada.get(url)).json()['data']['image_count'] == 1

    assert (await ada.client.delete(url)).status_code == 200
    assert error_of(await ada.get(url), 404)['code'] == 'not_found'


async def test_a_member_reads_a_shared_board_and_only_editors_change_it(user: User) -> None:
    ada = await api_user(user)
    bob = await api_user(user, 'bob@example.com')
    (image,) = await images_of(ada, 1)
    services = app_services()
    root = await api_user(user, 'root@example.com')

    await promote_admin(services, root.id)
    group = await services.groups.create(root.id, 'Design')
    await services.groups.add_member(root.id, group.id, ada.id, 'member')
    await services.groups.add_member(root.id, group.id, bob.id, 'member')
    board = (await ada.client.post('/api/v1/boards', json={'name': 'Team'})).json()['data']
    url = f"/api/v1/boards/{board['id']}"
    await ada.client.post(f'{url}/images', json={'image_ids': [image]})
    shared = await ada.client.put(f'{url}/share', json={'group_id': group.id})
    assert shared.json()['data']['group_name'] == 'Design'
    seen = (await bob.get(url)).json()['data']
    assert (seen['role'], seen['can_edit']) == ('member', False)
    assert [i['id'] for i in (await bob.get(f'{url}/images')).json()['data']['items']] == [image]
    assert error_of(await bob.client.delete(f'{url}/images/{image}'), 403)['code'] == 'forbidden'
    await services.groups.add_member(root.id, group.id, bob.id, 'editor')
    assert (await bob.client.delete(f'{url}/images/{image}')).json()['data'] == {'removed': 1}
