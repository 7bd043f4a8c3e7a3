"""Versions of a teammate's image (Team gallery, a shared board): the lightbox opens it without an error, and its
strip shows only the versions the viewer may see, never the owner's unshared edits."""

from __future__ import annotations

from collections.abc import Callable

from nicegui.testing import User

from nanogen.models import Image
from tests.support.gallery import ada_with_images, offers_edit, open_tile, svc, tile_ids
from tests.ui.helpers import elements, eventually, should_see, sign_in
from tests.ui.studio import user_id, wait_finished
from tests.ui.test_boards_ui import admin_group
from tests.ui.test_versions_ui import edit_in_lightbox, strip_ids

GONE = 'That image does not exist.'


async def finished_edit(uid: int, image_id: int, instruction: str) -> int:
    """An edit through the real service, finished: the new version's id."""
    prompt = await svc().edits.edit(uid, image_id, instruction)
    assert prompt.id is not None
    assert await wait_finished(svc(), uid, prompt.id) == 'COMPLETED'
    done = await svc().library.get_prompt(uid, prompt.id)
    assert done.image_id is not None
    return done.image_id


async def ada_shares_a_fox_with_bob(user: User, bob_tab: User) -> tuple[int, int, int, int, int]:
    """Ada's fox on a board shared with Bob's group, and Ada's own edit of it left off the board:
    (ada, bob, board, fox, adas_private_edit)."""
    ada, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    private = await finished_edit(ada, fox, 'make it night')
    await sign_in(bob_tab, name='Bob', email='bob@example.com')
    bob = await user_id(svc(), 'bob@example.com')
    group = await admin_group('Design', (ada, 'admin'), (bob, 'member'))
    board = await svc().library.boards.create(ada, 'Zine')
    await svc().library.boards.add_images(ada, board.id, [fox])
    await svc().library.boards.share_with_group(ada, board.id, group)
    return ada, bob, board.id, fox, private


async def open_in_lightbox(tab: User, path: str, image_id: int) -> None:
    await tab.open(path)
    await eventually(lambda: image_id in tile_ids(tab), message=f'tile {image_id} never showed on {path}')
    open_tile(tab, image_id)
    await should_see(tab, marker='lightbox-prompt')
    # The panel is built after the image (it reads the lineage): wait for it, or for the toast it once showed.
    await eventually(lambda: elements(tab, marker='version-strip') or tab.notify.messages,
                     message='the lightbox never built its versions')


async def test_a_teammates_image_opens_without_an_error_and_hides_unshared_versions(
        user: User, create_user: Callable[[], User]) -> None:
    bob_tab = create_user()
    _ada, bob, board, fox, private = await ada_shares_a_fox_with_bob(user, bob_tab)
    for path in (f'/boards/{board}', '/team'):
        await open_in_lightbox(bob_tab, path, fox)
        assert GONE not in bob_tab.notify.messages, f'{path}: {bob_tab.notify.messages}'
        assert strip_ids(bob_tab) == [fox], f'{path}: {strip_ids(bob_tab)}'  # Ada's unshared edit stays hers
        assert bob_tab.find(marker='version-count').elements.pop().text == '1'
    lineage = await svc().edits.lineage(bob, fox)
    assert lineage.chain == [fox] and lineage.children == [] and private not in {v.image_id for v in lineage.versions}


async def test_a_teammate_edits_a_shared_image_into_their_own_version(
        user: User, create_user: Callable[[], User]) -> None:
    bob_tab = create_user()
    ada, bob, board, fox, private = await ada_shares_a_fox_with_bob(user, bob_tab)
    await bob_tab.open('/team')
    await eventually(lambda: fox in tile_ids(bob_tab))
    await eventually(lambda: offers_edit(bob_tab, fox))  # the tile offers Edit as in the viewer's own gallery
    await open_in_lightbox(bob_tab, f'/boards/{board}', fox)
    bobs = await edit_in_lightbox(bob_tab, 'add a scarf')  # the lightbox opens the new version when it is ready
    await eventually(lambda: strip_ids(bob_tab) == [fox, bobs], message=f'strip: {strip_ids(bob_tab)}')
    assert private not in strip_ids(bob_tab)
    assert GONE not in bob_tab.notify.messages, bob_tab.notify.messages
    row = await svc().db.run(lambda s: s.get(Image, bobs))
    assert (row.user_id, row.parent_image_id) == (bob, fox)  # Bob's image, a version of Ada's fox
    assert [v.image_id for v in (await svc().edits.lineage(ada, fox)).versions] == [fox, private]  # not shared
