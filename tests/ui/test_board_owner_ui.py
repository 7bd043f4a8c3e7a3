"""A board's owner on its page (issue 16): renames and describes it (shown as text), picks the cover from the selection
bar or the lightbox (it falls back to the newest image when it leaves the board), lists the public links with their
state and revokes one; group members get none of these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from nicegui import ui
from nicegui.testing import User

from nanogen.models import utcnow
from tests.support.gallery import ada_with_images, open_tile, svc, tick, tile_ids
from tests.ui.helpers import elements, eventually, should_not_see, should_see, sign_in
from tests.ui.studio import user_id
from tests.ui.test_boards_ui import admin_group

HOSTILE = 'Zine <img src=x onerror=alert(1)> "quoted" \\N{x} :class=evil \\'


def text_of(user: User, marker: str) -> str:
    return user.find(marker=marker).elements.pop().text


def cover_of(user: User) -> str | None:
    shown = [e for e in elements(user, marker='board-cover') if e.visible]
    return shown[0].source if shown else None


async def test_the_owner_renames_and_describes_a_board_and_sees_it_as_typed(user: User) -> None:
    ada, _ = await ada_with_images(user)
    board = await svc().library.boards.create(ada, 'Zine')
    await user.open(f'/boards/{board.id}')
    await should_see(user, marker='board-title')
    user.find(marker='edit-name').clear().type(HOSTILE)
    user.find(marker='edit-description').type('line one\n<b>line two</b>')
    user.find(marker='save-board').click()
    await should_see(user, 'Board saved.')
    assert text_of(user, 'board-title') == HOSTILE  # a label's text, never HTML, never a prop
    assert text_of(user, 'board-about') == 'line one\n<b>line two</b>'
    assert all(type(user.find(marker=m).elements.pop()) is ui.label for m in ('board-title', 'board-about'))
    assert not [e for e in user.find(kind=ui.element).elements if {'onerror', ':class', 'src=x'} & set(e.props)]
    saved = await svc().library.boards.get(ada, board.id)
    assert (saved.name, saved.description) == (HOSTILE, 'line one\n<b>line two</b>')

    for bad, message in (('   ', 'Give the board a name.'), ('x' * 101, 'A board name has at most 100 characters.')):
        user.find(marker='edit-name').elements.pop().value = bad  # past the box's maxlength, as a script could
        user.find(marker='save-board').click()
        await eventually(lambda m=message: text_of(user, 'edit-error') == m)
        await should_see(user, message)
    assert text_of(user, 'board-title') == HOSTILE
    assert (await svc().library.boards.get(ada, board.id)).name == HOSTILE
    await user.open('/boards')
    await should_see(user, marker=f'board-name-{board.id}')
    assert text_of(user, f'board-name-{board.id}') == HOSTILE


async def test_the_owner_picks_the_cover_and_it_falls_back_to_the_newest_image(user: User) -> None:
    ada, [(fox,), (whale,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024),
                                                    ('a blue whale singing', 1, 1024))
    board = await svc().library.boards.create(ada, 'Animals')
    await svc().library.boards.add_images(ada, board.id, [fox, whale])
    await user.open(f'/boards/{board.id}')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    assert cover_of(user) == f'/files/{whale}/thumb'  # nobody chose: the newest image
    await should_not_see(user, marker='newest-cover')

    tick(user, fox)
    user.find(marker='use-as-cover').click()  # from the selection bar
    await should_see(user, 'Cover set: the boards list shows this image.')
    assert cover_of(user) == f'/files/{fox}/thumb'
    assert (await svc().library.boards.get(ada, board.id)).cover_chosen
    tick(user, whale)
    user.find(marker='use-as-cover').click()
    await should_see(user, 'Select exactly one image to use as the cover.')
    tick(user, fox)

    await user.open('/boards')
    await eventually(lambda: [e.source for e in elements(user, marker=f'board-card-cover-{board.id}')] == [
        f'/files/{fox}/thumb'])
    await user.open(f'/boards/{board.id}')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    open_tile(user, whale)
    await should_see(user, marker='lightbox-cover')
    user.find(marker='lightbox-cover').click()  # from the lightbox
    await eventually(lambda: cover_of(user) == f'/files/{whale}/thumb')
    user.find(marker='close-lightbox').click()

    tick(user, whale)
    user.find(marker='remove-from-board').click()  # the cover leaves the board: the newest image left is shown
    await should_see(user, 'Removed 1 image from the board.')
    await eventually(lambda: cover_of(user) == f'/files/{fox}/thumb')
    tick(user, fox)
    user.find(marker='remove-from-board').click()
    await eventually(lambda: cover_of(user) is None)  # an empty board has no cover
    await user.open('/boards')
    await should_see(user, marker=f'board-{board.id}')
    assert elements(user, marker=f'board-card-cover-{board.id}') == []


async def test_the_owner_lists_links_with_their_state_and_a_revoked_or_expired_one_is_gone(
        user: User, create_user: Callable[[], User]) -> None:
    ada, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    board = await svc().library.boards.create(ada, 'Open studio')
    await svc().library.boards.add_images(ada, board.id, [fox])
    day = await svc().library.boards.create_link(ada, board.id, expires_in=timedelta(days=1))
    await user.open(f'/boards/{board.id}')
    await should_see(user, marker=f'link-row-{day.id}')
    user.find(marker='link-expiry').elements.pop().value = 0  # never expires
    user.find(marker='make-link').click()
    await eventually(lambda: '/b/' in (user.find(marker='board-link').elements.pop().value or ''))
    path = '/b/' + user.find(marker='board-link').elements.pop().value.split('/b/', 1)[1]
    (forever, _day) = await svc().library.boards.links_of(ada, board.id)
    await should_see(user, marker=f'link-row-{forever.id}')
    assert [text_of(user, f'link-state-{i}') for i in (forever.id, day.id)] == ['Works', 'Works']
    await should_see(user, 'never expires')

    stranger = create_user()
    await stranger.open(path)
    await should_see(stranger, 'Open studio')
    user.find(marker=f'revoke-link-{forever.id}').click()
    await should_see(user, 'Link revoked: it no longer works.')
    await eventually(lambda: text_of(user, f'link-state-{forever.id}') == 'Revoked')
    await should_not_see(user, marker=f'revoke-link-{forever.id}')
    await stranger.open(path)
    await should_see(stranger, marker='board-link-gone')
    await should_not_see(stranger, 'Open studio')
    token = path.removeprefix('/b/')
    assert (await stranger.http_client.get(f'/b/{token}/files/{fox}/image')).status_code == 404
    assert (await stranger.http_client.get(f'/b/{token}/zip')).status_code == 404

    svc().library.clock = lambda: utcnow() + timedelta(days=2)  # the one-day link has expired
    try:
        await user.open(f'/boards/{board.id}')
        await eventually(lambda: text_of(user, f'link-state-{day.id}') == 'Expired')
        await should_not_see(user, marker=f'revoke-link-{day.id}')
        await stranger.open(day.path)
        await should_see(stranger, marker='board-link-gone')
        expired = day.path.removeprefix('/b/')
        assert (await stranger.http_client.get(f'/b/{expired}/files/{fox}/thumb')).status_code == 404
        assert (await stranger.http_client.get(f'/b/{expired}/zip')).status_code == 404
    finally:
        svc().library.clock = utcnow


async def test_group_members_and_editors_get_no_owner_controls(user: User, create_user: Callable[[], User]) -> None:
    ada, [(fox,)] = await ada_with_images(user, ('a red fox in snow', 1, 1024))
    bob_tab = create_user()
    await sign_in(bob_tab, name='Bob', email='bob@example.com')
    bob = await user_id(svc(), 'bob@example.com')
    group = await admin_group('Design', (ada, 'admin'), (bob, 'member'))
    board = await svc().library.boards.create(ada, 'Zine')
    await svc().library.boards.add_images(ada, board.id, [fox])
    await svc().library.boards.share_with_group(ada, board.id, group)
    await bob_tab.open(f'/boards/{board.id}')
    await eventually(lambda: tile_ids(bob_tab) == [fox])
    tick(bob_tab, fox)  # the selection bar shows what a member may do: zip it
    await should_see(bob_tab, marker='download-zip')
    for marker in ('board-edit', 'board-share', 'board-links', 'delete-board', 'use-as-cover', 'remove-from-board'):
        await should_not_see(bob_tab, marker=marker)
    tick(bob_tab, fox)
    open_tile(bob_tab, fox)
    await should_see(bob_tab, marker='lightbox-prompt')
    await should_see(bob_tab, marker='copy-prompt')  # the lightbox's actions are drawn
    await should_not_see(bob_tab, marker='lightbox-cover')

    root = await user_id(svc(), 'root@example.com')
    await svc().groups.add_member(root, group, bob, 'editor')  # an editor adds and removes images, nothing more
    await bob_tab.open(f'/boards/{board.id}')
    await eventually(lambda: tile_ids(bob_tab) == [fox])
    tick(bob_tab, fox)
    await should_see(bob_tab, marker='remove-from-board')
    for marker in ('board-edit', 'board-share', 'delete-board', 'use-as-cover'):
        await should_not_see(bob_tab, marker=marker)
