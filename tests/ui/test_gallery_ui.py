"""The gallery as a person uses it: browse, search, lightbox, favourite, delete/undo, zip, share, live updates."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from nicegui import ui
from nicegui.testing import User

from nanogen.models import Image
from tests.support.gallery import (
    ada_with_65_images,
    ada_with_images,
    fox_and_whale_in_lightbox,
    make_images,
    open_tile,
    svc,
    tick,
    tile,
    tile_ids,
    user_id,
)
from tests.ui.helpers import WAIT_S, elements, eventually, should_not_see, should_see, sign_in


async def test_empty_gallery_invites_a_first_prompt(user: User) -> None:
    await sign_in(user, then='/gallery')
    await should_see(user, 'No images yet. Your first one is a prompt away.')
    user.find(marker='first-prompt').click()
    await should_see(user, marker='prompt')  # the generator's prompt box


async def test_images_are_listed_and_filters_narrow_them(user: User) -> None:
    _uid, [(fox1, fox2), (whale,)] = await ada_with_images(user, ('a red fox in snow', 2, 1024),
                                                           ('a blue whale singing', 1, 512))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([fox1, fox2, whale]))

    user.find(marker='search').type('WHALE')  # case does not matter
    await eventually(lambda: tile_ids(user) == [whale])
    user.find(marker='search').clear()
    await eventually(lambda: tile_ids(user) == sorted([fox1, fox2, whale]))

    user.find(marker='size-filter').elements.pop().value = 512
    await eventually(lambda: tile_ids(user) == [whale])
    user.find(marker='size-filter').elements.pop().value = 0

    user.find(marker='search').type('nothing like this')
    await should_see(user, 'No images match these filters.')
    await should_not_see(user, marker='first-prompt')


async def test_a_bad_date_gets_a_message_and_keeps_the_grid(user: User) -> None:
    _uid, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == [fox])
    user.find(marker='date-from').type('31/12/2026')
    await should_see(user, 'The from date must look like 2026-05-01.')
    assert tile_ids(user) == [fox]
    user.find(marker='date-from').clear().type('2000-01-01')
    user.find(marker='date-to').type('2000-01-02')
    await should_see(user, 'No images match these filters.')


async def test_lightbox_shows_the_details_and_walks_prev_next(user: User) -> None:
    _uid, [(older,), (newer,)] = await ada_with_images(user, ('an old stone bridge', 1, 512),
                                                       ('a new glass tower', 1, 1024))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([older, newer]))
    open_tile(user, newer)
    await should_see(user, marker='lightbox-prompt')
    await should_see(user, 'a new glass tower')
    await should_see(user, '$0.0125')
    await should_see(user, 'Image 1 of 2')
    assert user.find(marker='lightbox-image').elements.pop().source == f'/files/{newer}/image'
    user.find(marker='next').click()
    await should_see(user, 'an old stone bridge')
    await should_see(user, '$0.0050')
    await should_see(user, 'Image 2 of 2')
    user.find(marker='prev').click()
    await should_see(user, 'Image 1 of 2')
    user.find(marker='remix').click()
    await should_see(user, marker='prompt')
    assert user.find(marker='prompt').elements.pop().value == 'a new glass tower'


async def test_image_query_param_opens_only_your_own(user: User, create_user: Callable[[], User]) -> None:
    _uid, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    await user.open(f'/gallery?image={fox}')
    await should_see(user, marker='lightbox-prompt')
    await user.open('/gallery?image=abc')
    await should_see(user, 'That image does not exist.')
    bob = create_user()
    await sign_in(bob, name='Bob', email='bob@example.com', then=f'/gallery?image={fox}')
    await bob.open(f'/gallery?image={fox}')
    await should_see(bob, 'That image does not exist.')
    await should_not_see(bob, 'a red fox in snow')


async def test_favourite_toggles_with_feedback_and_filters(user: User) -> None:
    uid, fox, _whale = await fox_and_whale_in_lightbox(user)
    user.find(marker='favourite').click()
    await should_see(user, 'Added to favourites.')
    await eventually(lambda: (tile(user, fox) or {}).get('fav') is True, message='no star on the tile')
    assert (await svc().library.get_image(uid, fox)).is_favourite
    user.find(marker='close-lightbox').click()
    user.find(marker='favourites-only').click()
    await eventually(lambda: tile_ids(user) == [fox])


async def test_delete_hides_undo_restores_and_the_window_then_deletes_for_real(user: User) -> None:
    uid, fox, whale = await fox_and_whale_in_lightbox(user)
    svc().library.undo_window_s = 0.5  # read when Delete is clicked
    user.find(marker='delete').click()
    await should_see(user, 'Image deleted.')
    await eventually(lambda: tile_ids(user) == [whale])
    assert user.find(marker='lightbox-prompt').elements.pop().text == 'a blue whale singing'  # moved on
    user.find(marker='undo').click()
    await should_see(user, 'Image restored.')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))

    image = await svc().library.get_image(uid, fox)
    user.find(marker='close-lightbox').click()  # it stayed open on the next image after the first delete
    await should_not_see(user, marker='lightbox-prompt')
    open_tile(user, fox)
    await should_see(user, marker='lightbox-prompt')
    assert user.find(marker='lightbox-prompt').elements.pop().text == 'a red fox in snow'
    user.find(marker='delete').click()
    await eventually(lambda: tile_ids(user) == [whale])
    # Past the 0.5 s undo window the row and all three objects are gone.
    await eventually(lambda: svc().db.run(lambda s: s.get(Image, fox) is None), message='the image was never removed')
    for key in (image.key, image.original_key, image.thumb_key):
        assert not await svc().storage.exists(key)
    await should_not_see(user, 'Image deleted.')
    response = await user.http_client.get(f'/files/{fox}/thumb')
    assert response.status_code == 404


async def test_zip_holds_exactly_the_selected_images(user: User) -> None:
    uid, [(a, b, c)] = await ada_with_images(user, ('three tiny robots', 3, 512))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([a, b, c]))
    tick(user, a)
    tick(user, c)
    await should_see(user, '2 selected')
    user.find(marker='download-zip').click()
    response = await user.download.next(timeout=WAIT_S)
    assert response.status_code == 200 and response.headers['content-type'] == 'application/zip'
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        contents = sorted(archive.read(n) for n in archive.namelist())
    expected = sorted([await svc().storage.get((await svc().library.get_image(uid, i)).key) for i in (a, c)])
    assert contents == expected

    bad = await user.http_client.get('/files/zip?ids=1,two')
    assert bad.status_code == 422 and bad.json()['error']['message'].startswith('"two" is not an image id')
    empty = await user.http_client.get('/files/zip')
    assert empty.status_code == 422 and empty.json()['error']['message'] == 'Choose at least one image.'


async def test_two_users_never_see_each_others_images(user: User, create_user: Callable[[], User]) -> None:
    _uid, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    bob = create_user()
    await sign_in(bob, name='Bob', email='bob@example.com', then='/gallery')
    await bob.open('/gallery')
    await should_see(bob, 'No images yet')
    await should_not_see(bob, 'a red fox in snow')
    for url in (f'/files/{fox}/thumb', f'/files/{fox}/image?download=true', f'/files/zip?ids={fox}'):
        response = await bob.http_client.get(url)
        assert response.status_code == 404, url
        assert response.json()['error']['code'] == 'not_found'
    assert (await user.http_client.get(f'/files/{fox}/thumb')).status_code == 200


async def test_share_link_works_signed_out_until_revoked(user: User, create_user: Callable[[], User]) -> None:
    _uid, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    await user.open(f'/gallery?image={fox}')
    user.find(marker='share').click()
    await should_see(user, 'Share link created and copied')
    await eventually(lambda: elements(user, marker='share-url'))
    url = user.find(marker='share-url').elements.pop().value
    path = url[url.index('/s/'):]

    visitor = create_user()  # never signs in
    await visitor.open(path)
    await should_see(visitor, 'a red fox in snow')
    assert visitor.find(marker='shared-image').elements.pop().source == f'{path}/image'
    picture = await visitor.http_client.get(f'{path}/image')
    assert picture.status_code == 200 and picture.headers['content-type'] == 'image/png'
    assert (await visitor.http_client.get(f'/files/{fox}/image')).status_code == 303  # to sign-in, no bytes

    share_id = int(next(m for e in elements(user, kind=ui.button) for m in e._markers
                        if m.startswith('revoke-')).removeprefix('revoke-'))
    user.find(marker=f'revoke-{share_id}').click()
    await should_see(user, 'Link revoked: it no longer works.')
    await visitor.open(path)
    await should_see(visitor, 'This link is no longer available.')
    await should_not_see(visitor, 'a red fox in snow')
    gone = await visitor.http_client.get(f'{path}/image')
    assert gone.status_code == 404 and gone.json()['error']['message'] == 'This link is no longer available.'


async def test_garbage_share_link_gets_a_clear_page_and_404(user: User) -> None:
    await user.open('/s/garbage')
    await should_see(user, 'This link is no longer available.')
    assert (await user.http_client.get('/s/garbage/image')).status_code == 404


async def test_new_images_appear_on_an_open_gallery(user: User) -> None:
    await sign_in(user, then='/gallery')
    await user.open('/gallery')
    await should_see(user, 'No images yet')
    uid = await user_id()
    ids = await make_images(uid, 'a live update of a comet', n=2)
    await eventually(lambda: tile_ids(user) == sorted(ids))
    await should_see(user, '2 new images arrived.')
    await should_not_see(user, 'No images yet')


async def test_more_images_load_as_you_scroll(user: User) -> None:
    first = await ada_with_65_images(user)
    await user.open('/gallery')
    await eventually(lambda: len(tile_ids(user)) == 60)  # one page
    await should_see(user, marker='load-more')
    user.find(marker='load-more').click()  # what the scroll sentinel does in a browser
    await eventually(lambda: len(tile_ids(user)) == 65)
    await should_not_see(user, marker='load-more')
    assert first in tile_ids(user)  # the oldest arrives last, newest first
