"""The gallery grid (issue 18): a page of tiles is one element drawn by the browser, live arrivals join one run at
the top, and an event naming a tile the grid does not show (another user's image, garbage) does nothing."""

from __future__ import annotations

from collections.abc import Callable

from nicegui.testing import User

from tests.support.gallery import (
    ada_with_65_images,
    ada_with_images,
    make_images,
    open_tile,
    run_event,
    tile_ids,
    tile_runs,
    user_id,
)
from tests.ui.helpers import eventually, should_not_see, should_see, sign_in


async def test_a_page_of_tiles_is_one_element(user: User) -> None:
    await ada_with_65_images(user)
    await user.open('/gallery')
    await eventually(lambda: len(tile_ids(user)) == 60)
    (grid,) = user.find(marker='grid').elements
    assert [len(run.tiles) for run in tile_runs(user)] == [60]
    assert len(list(grid.descendants())) == 1  # its one run: no element per tile
    user.find(marker='load-more').click()
    await eventually(lambda: [len(run.tiles) for run in tile_runs(user)] == [60, 5])
    assert len(list(grid.descendants())) == 2


async def test_live_arrivals_join_one_run_at_the_top_and_an_emptied_run_goes(user: User) -> None:
    uid, [(old,)] = await ada_with_images(user, ('an old lighthouse', 1, 512))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == [old])
    [first] = await make_images(uid, 'a first comet', size=512)
    await eventually(lambda: len(tile_runs(user)) == 2)
    [second] = await make_images(uid, 'a second comet', size=512)
    await eventually(lambda: first in tile_ids(user) and second in tile_ids(user))
    assert [run.ids() for run in tile_runs(user)] == [[second, first], [old]]  # newest first, one live run

    for image_id in (second, first):
        open_tile(user, image_id)
        await should_see(user, marker='lightbox-prompt')
        user.find(marker='delete').click()
        await eventually(lambda image_id=image_id: image_id not in tile_ids(user))
        user.find(marker='close-lightbox').click()
        await should_not_see(user, marker='lightbox-prompt')
    assert [run.ids() for run in tile_runs(user)] == [[old]]


async def test_events_naming_tiles_the_grid_does_not_show_do_nothing(user: User,
                                                                     create_user: Callable[[], User]) -> None:
    bob = create_user()
    await sign_in(bob, name='Bob', email='bob@example.com')
    [bobs] = await make_images(await user_id('bob@example.com'), 'bob keeps this one private', size=512)
    _uid, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 512))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == [fox])
    (run,) = tile_runs(user)
    for event, arg in (('open', bobs), ('open', 'x'), ('open', None), ('edit', bobs), ('select', {'id': bobs,
                       'value': True}), ('select', 'garbage'), ('select', {'id': [fox], 'value': True}),
                       ('drag', bobs)):
        run_event(user, run, event, arg)
    run_event(user, run, 'select', {'id': fox, 'value': True})  # a real tick after them: only it counts
    await should_see(user, '1 selected')
    assert run.props['selected'] == [fox]
    await should_not_see(user, marker='lightbox-prompt')
    await should_not_see(user, 'bob keeps this one private')
    await should_not_see(user, marker='edit-dialog')
