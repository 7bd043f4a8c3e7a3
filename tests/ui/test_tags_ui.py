"""Tags and stars in the gallery (issue 16): set them in the lightbox, filter the grid by them, save the search."""

from __future__ import annotations

from nicegui.testing import User

from tests.support.gallery import fox_and_whale_in_lightbox, svc, tile_ids
from tests.ui.helpers import eventually, should_see


async def test_tags_and_ratings_filter_the_gallery_and_a_search_is_saved_as_a_chip(user: User) -> None:
    uid, fox, whale = await fox_and_whale_in_lightbox(user)
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
