"""REST API: edit by instruction makes a new version linked to its parent; versions; nobody else's images."""

from __future__ import annotations

from typing import Any

from nicegui.testing import User

from tests.integration.api_support import ApiUser, api_user, error_of, prompt_count, wait_finished


async def generate(api: ApiUser) -> dict[str, Any]:
    r = await api.client.post('/api/v1/images/generate', json={'prompt': 'a red mug on a table'})
    assert r.status_code == 202, r.text
    done = await wait_finished(api, r.json()['data']['id'])
    assert done['status'] == 'COMPLETED', done['error_message']
    return done['images'][0]


async def edit(api: ApiUser, image_id: int, instruction: str, **extra: Any) -> dict[str, Any]:
    r = await api.client.post(f'/api/v1/images/{image_id}/edit', json={'instruction': instruction, **extra})
    assert r.status_code == 202, r.text
    done = await wait_finished(api, r.json()['data']['id'])
    assert done['status'] == 'COMPLETED', done['error_message']
    return done


async def test_an_edit_of_an_edit_has_a_three_version_lineage_and_the_original_is_unchanged(user: User) -> None:
    api = await api_user(user)
    original = await generate(api)
    before = (await api.get(original['files']['image'])).content
    first = await edit(api, original['id'], 'put a logo on the mug', model='nanobanana-2', resolution='1K')
    assert first['task_type'] == 'IMAGE_TO_IMAGE' and first['model'] == 'nanobanana-2'
    assert first['prompt'] == 'put a logo on the mug'
    one = first['images'][0]['id']
    second = await edit(api, one, 'make the sky stormy')
    two = second['images'][0]['id']
    r = await api.get(f'/api/v1/images/{two}/versions')
    assert r.status_code == 200, r.text
    lineage = r.json()['data']
    assert lineage['root_id'] == original['id'] and lineage['chain'] == [original['id'], one, two]
    assert lineage['children'] == []
    assert [(v['image_id'], v['parent_image_id']) for v in lineage['versions']] == [
        (original['id'], None), (one, original['id']), (two, one)]
    assert [v['instruction'] for v in lineage['versions']] == [
        'a red mug on a table', 'put a logo on the mug', 'make the sky stormy']
    middle = (await api.get(f'/api/v1/images/{one}/versions')).json()['data']
    assert middle['chain'] == [original['id'], one] and middle['children'] == [two]
    branch = await edit(api, one, 'make it blue instead')  # any version can be edited again: a branch
    assert (await api.get(f'/api/v1/images/{one}/versions')).json()['data']['children'] == [
        two, branch['images'][0]['id']]
    assert (await api.get(original['files']['image'])).content == before  # the original never changes


async def test_edit_with_other_gallery_images_as_references(user: User) -> None:
    api = await api_user(user)
    base, other = await generate(api), await generate(api)
    done = await edit(api, base['id'], 'combine them', reference_image_ids=[other['id']], model='nanobanana-pro')
    assert done['images'][0]['id'] not in (base['id'], other['id'])
    too_many = await api.client.post(f'/api/v1/images/{base["id"]}/edit', json={
        'instruction': 'x' * 5, 'model': 'nanobanana', 'reference_image_ids': [other['id']] * 4})
    assert 'at most 3 more' in error_of(too_many, 422)['message']


async def test_nobody_edits_or_sees_the_versions_of_another_users_image(user: User) -> None:
    ada = await api_user(user, 'ada@example.com')
    bob = await api_user(user, 'bob@example.com')
    bobs = await generate(bob)
    adas = await generate(ada)
    count = await prompt_count()
    for r in (await ada.client.post(f'/api/v1/images/{bobs["id"]}/edit', json={'instruction': 'steal it'}),
              await ada.get(f'/api/v1/images/{bobs["id"]}/versions'),
              await ada.client.post(f'/api/v1/images/{adas["id"]}/edit',
                                    json={'instruction': 'mix', 'reference_image_ids': [bobs['id']]})):
        assert error_of(r, 404)['message'] == 'That image does not exist.'
        assert 'red mug' not in r.text
    assert await prompt_count() == count
