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
                               ('POST', f'{url}/links', {}), ('GET', f'{url}/links', None),
                               ('DELETE', f"{url}/links/{link.json()['data']['id']}", None)):
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


async def test_the_owner_edits_a_board_picks_its_cover_and_revokes_its_links_over_the_api(user: User) -> None:
    ada = await api_user(user)
    first, second = await images_of(ada, 2)  # the same moment: the higher id is the newer
    board = (await ada.client.post('/api/v1/boards', json={'name': 'Moodboard'})).json()['data']
    url = f"/api/v1/boards/{board['id']}"
    await ada.client.post(f'{url}/images', json={'image_ids': [first, second]})
    shown = (await ada.get(url)).json()['data']
    assert (shown['cover_image_id'], shown['cover_chosen']) == (second, False)

    edited = await ada.client.patch(url, json={'name': ' Mood  board ', 'description': '<i>"quoted"</i>\\'})
    assert (edited.json()['data']['name'], edited.json()['data']['description']) == ('Mood board', '<i>"quoted"</i>\\')
    for body, field in (({'name': ''}, 'name'), ({'name': 'x' * 101}, 'name'), ({'description': 'x' * 1001},
                        'description'), ({'cover_image_id': 999999}, 'cover_image_id'), ({'cover_image_id': 0},
                        'cover_image_id'), ({'cover_image_id': 'first'}, 'cover_image_id'), ({'name': 7}, 'name')):
        assert error_of(await ada.client.patch(url, json=body), 422)['field'] == field, body
    chosen = (await ada.client.patch(url, json={'cover_image_id': first})).json()['data']
    assert (chosen['cover_image_id'], chosen['cover_chosen']) == (first, True)
    assert (await ada.get('/api/v1/boards')).json()['data'][0]['cover_image_id'] == first
    kept = (await ada.client.patch(url, json={'name': 'Mood'})).json()['data']  # left out: the cover stays
    assert (kept['cover_image_id'], kept['cover_chosen']) == (first, True)
    cleared = (await ada.client.patch(url, json={'cover_image_id': None})).json()['data']
    assert (cleared['cover_image_id'], cleared['cover_chosen']) == (second, False)
    await ada.client.patch(url, json={'cover_image_id': first})
    await ada.client.delete(f'{url}/images/{first}')
    assert (await ada.get(url)).json()['data']['cover_image_id'] == second  # the cover left: the newest

    made = [(await ada.client.post(f'{url}/links', json=body)).json()['data'] for body in ({}, {'expires_in_days': 1})]
    links = (await ada.get(f'{url}/links')).json()['data']
    assert [(link['id'], link['state']) for link in links] == [(made[1]['id'], 'live'), (made[0]['id'], 'live')]
    assert links[0]['expires_at'] is not None and links[1]['expires_at'] is None and 'url' not in links[0]
    token = made[0]['url'].split('/b/', 1)[1]
    assert (await ada.client.delete(f"{url}/links/{made[0]['id']}")).status_code == 200
    assert (await ada.client.delete(f"{url}/links/{made[0]['id']}")).status_code == 200  # twice: still revoked
    links = (await ada.get(f'{url}/links')).json()['data']
    assert [link['state'] for link in links] == ['live', 'revoked'] and links[1]['revoked_at'] is not None
    assert error_of(await ada.client.delete(f'{url}/links/999999'), 404)['code'] == 'not_found'
    gone = await user.http_client.get(f'/b/{token}/zip')  # the revoked link's files and zip: 404
    assert error_of(gone, 404)['message'] == 'This link is no longer available.'
    assert (await user.http_client.get(f'/b/{token}/files/{second}/thumb')).status_code == 404


async def test_a_member_or_editor_may_not_edit_cover_or_link_a_shared_board(user: User) -> None:
    ada = await api_user(user)
    bob = await api_user(user, 'bob@example.com')
    (image,) = await images_of(ada, 1)
    services = app_services()
    root = await api_user(user, 'root@example.com')
    await promote_admin(services, root.id)
    group = await services.groups.create(root.id, 'Design')
    await services.groups.add_member(root.id, group.id, ada.id, 'member')
    board = (await ada.client.post('/api/v1/boards', json={'name': 'Team'})).json()['data']
    url = f"/api/v1/boards/{board['id']}"
    await ada.client.post(f'{url}/images', json={'image_ids': [image]})
    await ada.client.put(f'{url}/share', json={'group_id': group.id})
    link = (await ada.client.post(f'{url}/links', json={})).json()['data']
    for role in ('member', 'editor'):
        await services.groups.add_member(root.id, group.id, bob.id, role)
        for method, path, body in (('PATCH', url, {'name': 'Bob was here'}), ('PATCH', url, {'cover_image_id': image}),
                                   ('GET', f'{url}/links', None), ('DELETE', f"{url}/links/{link['id']}", None)):
            response = await bob.client.request(method, path, json=body)
            assert error_of(response, 403)['code'] == 'forbidden', (role, method, path)
    shown = (await ada.get(url)).json()['data']
    assert (shown['name'], shown['cover_chosen']) == ('Team', False)
    assert [item['state'] for item in (await ada.get(f'{url}/links')).json()['data']] == ['live']
