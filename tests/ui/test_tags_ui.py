"""Tags and stars in the gallery (issue 16): set them in the lightbox, filter the grid by them, save the search."""

from __future__ import annotations

from nicegui.testing import User

from nanogen.generation.requests import validate_request
from nanogen.models import Prompt
from tests.support.gallery import fox_and_whale_in_lightbox, make_images, svc, tile_ids
from tests.ui.helpers import eventually, should_see, sign_in
from tests.ui.studio import user_id


async def test_tags_and_ratings_filter_the_gallery_and_a_search_is_saved_as_a_chip(user: User) -> None:
    uid, fox, whale = await fox_and_whale_in_lightbox(user)
    await should_see(user, marker='stars')  # the labels render after the version panel, not with the prompt
    user.find(marker='stars').elements.pop().value = 4
    await eventually(lambda: svc().library.tagging.rating_of(uid, fox), message='the rating was never saved')
    user.find(marker='tags').elements.pop().value = ['Winter']
    await should_see(user, 'Tags saved: winter')
    assert await svc().library.tagging.tags_of(uid, fox) == ['winter']
    await svc().library.tagging.set_tags(uid, whale, ['ocean'])
    user.find(marker='close-lightbox').click()

    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    tag_filter = user.find(marker='tag-filter').elements.pop()
    assert {'winter', 'ocean'} <= set(tag_filter.options)  # autocomplete offers the user's tags
    tag_filter.value = ['winter']
    await eventually(lambda: tile_ids(user) == [fox])
    tag_filter.value = []
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    user.find(marker='rating-filter').elements.pop().value = 3
    await eventually(lambda: tile_ids(user) == [fox])
    user.find(marker='rating-filter').elements.pop().value = 5
    await should_see(user, 'No images match these filters.')

    user.find(marker='rating-filter').elements.pop().value = 3
    await eventually(lambda: tile_ids(user) == [fox])
    user.find(marker='saved-name').type('Good ones')
    user.find(marker='save-search').click()
    await should_see(user, 'Search saved.')
    (saved,) = await svc().library.tagging.saved_searches(uid)
    assert saved.query.min_rating == 3
    user.find(marker='rating-filter').elements.pop().value = 0
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    user.find(marker=f'saved-{saved.id}').click()  # the chip brings the filters back
    await eventually(lambda: tile_ids(user) == [fox])
    assert user.find(marker='rating-filter').elements.pop().value == 3


async def test_the_resolution_filter_finds_pro_and_2_and_the_pixel_size_only_nano_banana(user: User) -> None:
    """Pro and 2 are sized by resolution and store a placeholder 1024: "1024px" must not list them."""
    await sign_in(user, then='/dashboard')
    uid = await user_id(svc(), 'ada@example.com')
    (fox,) = await make_images(uid, 'a fox at 1024 px', size=1024)
    (whale,) = await made_with(uid, 'a whale in 4K', model='nanobanana-pro', resolution='4K')
    (kite,) = await made_with(uid, 'a kite in 1K', model='nanobanana-2', resolution='1K')
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale, kite]))
    user.find(marker='size-filter').elements.pop().value = 1024
    await eventually(lambda: tile_ids(user) == [fox])
    user.find(marker='size-filter').elements.pop().value = 0
    resolution = user.find(marker='resolution-filter').elements.pop()
    resolution.value = '4K'
    await eventually(lambda: tile_ids(user) == [whale])
    resolution.value = '1K'
    await eventually(lambda: tile_ids(user) == [kite])
    resolution.value = '2K'
    await should_see(user, 'No images match these filters.')


async def made_with(uid: int, prompt: str, **request: object) -> list[int]:
    created = await svc().generation.create(uid, validate_request(prompt=prompt, **request))  # type: ignore[arg-type]

    async def completed() -> bool:
        return (await svc().db.run(lambda s: s.get(Prompt, created.id))).status == 'COMPLETED'
    await eventually(completed, message=f'prompt {created.id} never completed')
    return [i.id for i in await svc().library.images_of_prompt(uid, created.id)]
