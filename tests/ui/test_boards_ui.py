"""Boards as people use them (issue 16): make a board, add images from the gallery by multi-select, share it with a
group; a member sees it, an outsider does not; a public link shows it to anyone until revoked."""

from __future__ import annotations

from collections.abc import Callable

from nicegui.testing import User
from sqlmodel import select

from nanogen.library.queries import ImageQuery
from nanogen.models import BoardLink
from tests.support.gallery import ada_with_images, svc, tick, tile_event, tile_ids
from tests.support.library import promote_admin
from tests.ui.helpers import eventually, should_not_see, should_see, sign_in
from tests.ui.studio import user_id


async def admin_group(name: str, *members: tuple[int, str]) -> int:
    services = svc()
    root = await services.users.sign_in(subject='local:root@example.com', email='root@example.com')

    await promote_admin(services, root.id)
    group = await services.groups.create(root.id, name)
    for uid, role in members:
        await services.groups.add_member(root.id, group.id, uid, role)
    return group.id


async def test_make_a_board_add_from_the_gallery_share_it_and_only_members_see_it(
        user: User, create_user: Callable[[], User]) -> None:
    ada, [(fox, fox2), (whale,)] = await ada_with_images(user, ('a red fox in snow', 2, 1024),
                                                         ('a blue whale singing', 1, 1024))
    await user.open('/boards')
    await should_see(user, marker='no-boards')
    user.find(marker='board-name').type('Zine animals')
    user.find(marker='create-board').click()
    await should_see(user, marker='board-title')
    await should_see(user, 'No images on this board yet: add some from the gallery.')
    (board,) = await svc().library.boards.visible_to(ada)

    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([fox, fox2, whale]))
    tick(user, fox)
    tick(user, whale)
    await should_see(user, '2 selected')
    assert user.find(marker='board-choice').elements.pop().value == board.id
    user.find(marker='add-to-board').click()
    await should_see(user, 'Added 2 images to Zine animals.')

    await user.open(f'/boards/{board.id}')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    user.find(marker='search').type('whale')  # the gallery's search works on a board too
    await eventually(lambda: tile_ids(user) == [whale])

    bob_tab, eve_tab = create_user(), create_user()
    await sign_in(bob_tab, name='Bob', email='bob@example.com')
    await sign_in(eve_tab, name='Eve', email='eve@example.com')
    bob = await user_id(svc(), 'bob@example.com')
    group = await admin_group('Design', (ada, 'admin'), (bob, 'member'))
    await user.open(f'/boards/{board.id}')
    user.find(marker='share-group').elements.pop().value = group
    user.find(marker='save-share').click()
    await should_see(user, 'Sharing saved.')

    await bob_tab.open(f'/boards/{board.id}')
    await should_see(bob_tab, marker='board-title')
    await should_see(bob_tab, 'Shared with you (view only) · shared with Design')
    await eventually(lambda: tile_ids(bob_tab) == sorted([fox, whale]))
    await should_not_see(bob_tab, marker='remove-from-board')  # a member only looks
    await should_not_see(bob_tab, marker='board-share')
    assert (await bob_tab.http_client.get(f'/files/{fox}/thumb')).status_code == 200
    assert (await bob_tab.http_client.get(f'/files/{fox2}/thumb')).status_code == 404  # not on the board
    await bob_tab.open('/boards')
    await should_see(bob_tab, marker=f'board-{board.id}')
    await bob_tab.open('/team')  # the Team gallery: images on boards shared with Bob's groups
    await eventually(lambda: tile_ids(bob_tab) == sorted([fox, whale]))

    await eve_tab.open(f'/boards/{board.id}')
    await should_see(eve_tab, 'That board does not exist.')
    await should_not_see(eve_tab, 'Zine animals')
    assert (await eve_tab.http_client.get(f'/files/{fox}/thumb')).status_code == 404
    await eve_tab.open('/boards')
    await should_see(eve_tab, marker='no-boards')
    await eve_tab.open('/team')
    await should_see(eve_tab, "No images on your groups' shared boards yet.")
    assert tile_ids(eve_tab) == []


async def test_a_public_board_link_shows_the_board_until_it_is_revoked(user: User,
                                                                      create_user: Callable[[], User]) -> None:
    ada, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    board = await svc().library.boards.create(ada, 'Open studio')
    await svc().library.boards.add_images(ada, board.id, [fox])
    await user.open(f'/boards/{board.id}')
    user.find(marker='make-link').click()
    await eventually(lambda: '/b/' in (user.find(marker='board-link').elements.pop().value or ''))
    path = '/b/' + user.find(marker='board-link').elements.pop().value.split('/b/', 1)[1]
    stranger = create_user()
    await stranger.open(path)
    await should_see(stranger, 'Open studio')
    await should_see(stranger, marker=f'linked-{fox}')
    token = path.removeprefix('/b/')
    assert (await stranger.http_client.get(f'/b/{token}/files/{fox}/thumb')).status_code == 200
    (link_id,) = await svc().db.run(lambda s: [r.id for r in s.exec(select(BoardLink))])
    await svc().library.boards.revoke_link(ada, board.id, link_id)
    await stranger.open(path)
    await should_see(stranger, marker='board-link-gone')
    assert (await stranger.http_client.get(f'/b/{token}/files/{fox}/thumb')).status_code == 404


async def board_image_ids(uid: int, board_id: int) -> list[int]:
    return sorted(r.id for r in (await svc().library.board_images(uid, board_id, ImageQuery())).items)


async def test_dragging_a_tile_or_the_selection_onto_a_board_chip_adds_it(user: User,
                                                                         create_user: Callable[[], User]) -> None:
    ada, [(fox,), (whale,), (crane,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024),
                                                              ('a blue whale singing', 1, 1024),
                                                              ('a paper crane', 1, 1024))
    boards = svc().library.boards
    zine, moods = await boards.create(ada, 'Zine'), await boards.create(ada, 'Moods <b>2</b>')
    bob_tab = create_user()
    await sign_in(bob_tab, name='Bob', email='bob@example.com')
    bob = await user_id(svc(), 'bob@example.com')
    group = await admin_group('Design', (ada, 'editor'), (bob, 'admin'))
    bobs = await boards.create(bob, "Bob's board")
    await boards.share_with_group(bob, bobs.id, group)  # Ada may add to it: an editor
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale, crane]))
    await should_see(user, 'Drag images onto a board:')
    assert user.find(marker=f'board-target-{moods.id}').elements.pop().text == 'Moods <b>2</b>'  # text, as typed

    tile_event(user, fox, 'drag', fox)  # one tile, nothing selected: that tile
    user.find(marker=f'board-target-{zine.id}').trigger('drop')
    await should_see(user, 'Added 1 image to Zine.')
    assert await board_image_ids(ada, zine.id) == [fox]

    tick(user, whale)
    tick(user, crane)
    tile_event(user, whale, 'drag', whale)  # a selected tile carries the whole selection
    user.find(marker=f'board-target-{moods.id}').trigger('drop')
    await should_see(user, 'Added 2 images to Moods <b>2</b>.')
    assert await board_image_ids(ada, moods.id) == sorted([whale, crane])
    user.find(marker=f'board-target-{zine.id}').trigger('drop')  # a drop after the drop, no new drag: nothing
    tile_event(user, fox, 'drag', fox)  # an unselected tile: itself, whatever is selected
    user.find(marker=f'board-target-{moods.id}').trigger('drop')
    await should_see(user, 'Added 1 image to Moods <b>2</b>.')
    assert await board_image_ids(ada, moods.id) == sorted([fox, whale, crane])
    assert await board_image_ids(ada, zine.id) == [fox]
    await should_see(user, '2 selected')  # dragging leaves the selection as it was

    tile_event(user, fox, 'drag', fox)
    user.find(marker=f'board-target-{zine.id}').trigger('drop')
    await should_see(user, 'That image is already on Zine.')
    assert await board_image_ids(ada, zine.id) == [fox]

    tile_event(user, fox, 'drag', fox)  # Bob's shared board, Ada an editor: it takes hers
    user.find(marker=f'board-target-{bobs.id}').trigger('drop')
    await should_see(user, "Added 1 image to Bob's board.")
    root = await user_id(svc(), 'root@example.com')
    await svc().groups.add_member(root, group, ada, 'member')  # demoted while her gallery is open
    tile_event(user, whale, 'drag', whale)
    user.find(marker=f'board-target-{bobs.id}').trigger('drop')
    await should_see(user, "Only the owner and the group's editors can change this board.")
    assert await board_image_ids(bob, bobs.id) == [fox]
    await user.open('/gallery')  # a board she may only look at is no drop target
    await should_see(user, marker=f'board-target-{zine.id}')
    await should_not_see(user, marker=f'board-target-{bobs.id}')

    tick(user, whale)  # the multi-select "Add to board" still works beside dragging
    user.find(marker='board-choice').elements.pop().value = zine.id
    user.find(marker='add-to-board').click()
    # The first drop's "Added 1 image to Zine." may still be on screen: wait for the board itself.
    async def both_on_zine() -> bool:
        return await board_image_ids(ada, zine.id) == sorted([fox, whale])
    await eventually(both_on_zine, message='the multi-select add never reached the board')
