"""REST API: edit by instruction makes a new version linked to its parent; versions; nobody else's images."""

from __future__ import annotations

from typing import Any

from nicegui.testing import User

from nanogen.models import Image
from tests.integration.api_support import ApiUser, api_user, app_services, error_of, prompt_count, wait_finished
from tests.support.library import promote_admin


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


async def test_a_teammate_edits_a_shared_image_into_a_version_of_their_own(user: User) -> None:
    """Edit works on any image the caller may see: the result is the editor's, its parent the shared image; each
    caller's versions show only what they may see; someone outside the group gets the same 404 as before."""
    ada, bob = await api_user(user, 'ada@example.com'), await api_user(user, 'bob@example.com')
    carol = await api_user(user, 'carol@example.com')
    services = app_services()
    root = await api_user(user, 'root@example.com')
    await promote_admin(services, root.id)
    group = await services.groups.create(root.id, 'Design')
    for member in (ada, bob):
        await services.groups.add_member(root.id, group.id, member.id, 'member')
    fox = (await generate(ada))['id']
    private = (await edit(ada, fox, 'make it night'))['images'][0]['id']  # Ada's, never on the board
    board = (await ada.client.post('/api/v1/boards', json={'name': 'Zine'})).json()['data']
    await ada.client.post(f"/api/v1/boards/{board['id']}/images", json={'image_ids': [fox]})
    await ada.client.put(f"/api/v1/boards/{board['id']}/share", json={'group_id': group.id})

    done = await edit(bob, fox, 'add a scarf')
    assert done['task_type'] == 'IMAGE_TO_IMAGE'
    bobs = done['images'][0]['id']
    row = await services.db.run(lambda s: s.get(Image, bobs))
    assert (row.user_id, row.parent_image_id, row.root_image_id) == (bob.id, fox, None)  # Bob's own tree
    assert [i['id'] for i in (await bob.get('/api/v1/images')).json()['data']['items']] == [bobs]
    assert [i['id'] for i in (await bob.get('/api/v1/images?group_versions=true')).json()['data']['items']] == [bobs]
    seen = (await bob.get(f'/api/v1/images/{bobs}/versions')).json()['data']
    assert seen['chain'] == [fox, bobs] and seen['root_id'] == fox
    assert [(v['image_id'], v['parent_image_id']) for v in seen['versions']] == [(fox, None), (bobs, fox)]
    assert private not in {v['image_id'] for v in (await bob.get(f'/api/v1/images/{fox}/versions')).json()['data'][
        'versions']}  # Ada's unshared edit is never shown to Bob
    adas = (await ada.get(f'/api/v1/images/{fox}/versions')).json()['data']
    assert [v['image_id'] for v in adas['versions']] == [fox, private]  # nor Bob's unshared edit to Ada
    assert error_of(await ada.get(f'/api/v1/images/{bobs}/versions'), 404)['message'] == 'That image does not exist.'
    tile = next(i for i in (await ada.get('/api/v1/images')).json()['data']['items'] if i['id'] == fox)
    assert tile['version_count'] == 2  # her tree's badge counts her versions only

    count = await prompt_count()
    for r in (await carol.client.post(f'/api/v1/images/{fox}/edit', json={'instruction': 'steal it'}),
              await carol.get(f'/api/v1/images/{fox}/versions'),
              await carol.client.post(f'/api/v1/images/{bobs}/edit', json={'instruction': 'steal it'})):
        assert error_of(r, 404)['message'] == 'That image does not exist.'
        assert 'red mug' not in r.text and 'scarf' not in r.text
    assert await prompt_count() == count


async def test_edit_with_uploaded_references_sends_them_to_the_provider(user: User) -> None:
    """`/images/{id}/edit/upload`: the extra references come as files (as in the lightbox's With references...); the
    provider gets the image itself plus each upload, as short-lived URLs; a file that is no image is refused."""
    import io

    from PIL import Image as PILImage
    api = await api_user(user)
    base = await generate(api)

    def png(colour: tuple[int, int, int]) -> bytes:
        out = io.BytesIO()
        PILImage.new('RGB', (64, 48), colour).save(out, format='PNG')
        return out.getvalue()
    files = [('reference_images', ('logo.png', png((200, 40, 40)), 'image/png')),
             ('reference_images', ('mark.png', png((40, 200, 40)), 'image/png'))]
    r = await api.client.post(f'/api/v1/images/{base["id"]}/edit/upload',
                              data={'instruction': 'put both logos on the mug', 'model': 'nanobanana-2'}, files=files)
    assert r.status_code == 202, r.text
    done = await wait_finished(api, r.json()['data']['id'])
    assert done['status'] == 'COMPLETED', done['error_message']
    provider = app_services().demo
    assert provider is not None
    sent = [t for t in provider.tasks.values() if t.params.get('prompt') == 'put both logos on the mug']
    assert len(sent) == 1 and len(sent[0].params['imageUrls']) == 3  # the image itself + the two uploads
    lineage = (await api.get(f"/api/v1/images/{done['images'][0]['id']}/versions")).json()['data']
    assert lineage['chain'] == [base['id'], done['images'][0]['id']]
    count = await prompt_count()
    bad = await api.client.post(f'/api/v1/images/{base["id"]}/edit/upload', data={'instruction': 'mix it'},
                                files=[('reference_images', ('notes.txt', b'not an image', 'text/plain'))])
    assert 400 <= bad.status_code < 500 and bad.json()['success'] is False
    assert await prompt_count() == count
