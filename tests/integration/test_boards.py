"""Boards and groups in the library service (issue 16), on SQLite and PostgreSQL, images from the contract fake."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from sqlmodel import col, select

from nanogen.bootstrap import Services
from nanogen.errors import Forbidden, InvalidInput, NotFound
from nanogen.library.queries import ImageQuery
from nanogen.models import AuditEvent, utcnow
from tests.integration.test_generation import add_user
from tests.support.library import make_images, promote_admin


async def make_admin(services: Services, email: str = 'root@example.com') -> int:
    uid = await add_user(services, email)

    await promote_admin(services, uid)
    return uid


async def team(services: Services, *members: tuple[int, str]) -> int:
    """A group made by an admin with these (user id, role) members; its id."""
    admin = await make_admin(services)
    group = await services.groups.create(admin, 'Design')
    for uid, role in members:
        await services.groups.add_member(admin, group.id, uid, role)
    return group.id


async def board_ids(services: Services, viewer: int, board_id: int) -> list[int]:
    return [r.id for r in (await services.library.board_images(viewer, board_id, ImageQuery())).items]


async def test_a_private_board_is_its_owners_alone(studio) -> None:
    services, ada, bob = studio
    fox, whale = await make_images(services, ada, 'a fox and a whale', n=2)
    boards = services.library.boards
    board = await boards.create(ada, '  Animals  ', 'for the zine')
    assert (board.name, board.description, board.role, board.image_count) == ('Animals', 'for the zine', 'owner', 0)
    assert await boards.add_images(ada, board.id, [fox, whale, fox]) == [fox, whale]
    assert await boards.add_images(ada, board.id, [fox]) == []  # already there: nothing twice
    assert sorted(await board_ids(services, ada, board.id)) == sorted([fox, whale])
    assert (await boards.get(ada, board.id)).image_count == 2
    for attempt in (lambda: boards.get(bob, board.id), lambda: board_ids(services, bob, board.id),
                    lambda: boards.add_images(bob, board.id, [fox]), lambda: boards.remove_images(bob, board.id, [fox]),
                    lambda: boards.delete(bob, board.id), lambda: boards.update(bob, board.id, name='mine'),
                    lambda: boards.create_link(bob, board.id), lambda: services.library.file_for(bob, fox, 'thumb')):
        with pytest.raises(NotFound):  # Bob learns nothing: the same 404 as a missing board
            await attempt()
    assert [b.id for b in await boards.visible_to(bob)] == []
    (bobs,) = await make_images(services, bob, 'bob and his kite')
    with pytest.raises(NotFound):  # nobody puts someone else's image on their board
        await boards.add_images(ada, board.id, [bobs])
    with pytest.raises(InvalidInput):
        await boards.create(ada, '   ')
    assert await boards.remove_images(ada, board.id, [whale]) == 1
    assert await board_ids(services, ada, board.id) == [fox]
    assert (await services.library.get_image(ada, whale)).id == whale  # off the board, still in the library
    await boards.delete(ada, board.id)
    with pytest.raises(NotFound):
        await boards.get(ada, board.id)


async def test_a_board_shared_with_a_group_is_seen_by_members_and_changed_by_editors(studio) -> None:
    services, ada, bob = studio
    cyd = await add_user(services, 'cyd@example.com')
    eve = await add_user(services, 'eve@example.com')  # in no group: an outsider
    group = await team(services, (ada, 'member'), (bob, 'member'), (cyd, 'editor'))
    fox, whale = await make_images(services, ada, 'a fox and a whale', n=2)
    (cyds,) = await make_images(services, cyd, 'cyd draws a crane')
    boards = services.library.boards
    board = await boards.create(ada, 'Zine')
    await boards.add_images(ada, board.id, [fox])
    shared = await boards.share_with_group(ada, board.id, group)
    assert shared.group_name == 'Design'

    assert (await boards.get(bob, board.id)).role == 'member'
    assert await board_ids(services, bob, board.id) == [fox]
    assert (await services.library.file_for(bob, fox, 'thumb')).key  # a member reads the image's bytes
    with pytest.raises(NotFound):
        await services.library.file_for(bob, whale, 'thumb')  # not on the board: still Ada's alone
    with pytest.raises(Forbidden):
        await boards.add_images(bob, board.id, [fox])  # a member only looks
    with pytest.raises(Forbidden):
        await boards.share_with_group(bob, board.id, None)
    assert await boards.add_images(cyd, board.id, [cyds]) == [cyds]  # an editor adds their own
    assert sorted(await board_ids(services, bob, board.id)) == sorted([fox, cyds])
    assert await boards.remove_images(cyd, board.id, [fox]) == 1
    with pytest.raises(Forbidden):
        await boards.delete(cyd, board.id)  # only the owner deletes

    for attempt in (lambda: boards.get(eve, board.id), lambda: board_ids(services, eve, board.id),
                    lambda: services.library.file_for(eve, cyds, 'image')):
        with pytest.raises(NotFound):
            await attempt()
    assert [b.id for b in await boards.visible_to(bob)] == [board.id]
    assert await boards.visible_to(eve) == []
    with pytest.raises(NotFound):  # a group the owner is not in cannot be chosen
        await boards.share_with_group(eve, (await boards.create(eve, 'Eve')).id, group)

    await boards.share_with_group(ada, board.id, None)  # private again: members lose it at once
    with pytest.raises(NotFound):
        await boards.get(bob, board.id)
    actions = await services.db.run(lambda s: list(s.exec(select(AuditEvent.action).order_by(col(AuditEvent.id)))))
    assert actions[:4] == ['group.create', 'group.member_add', 'group.member_add', 'group.member_add']


async def test_a_public_link_shows_the_board_until_revoked_or_expired(studio) -> None:
    services, ada, bob = studio
    fox, whale = await make_images(services, ada, 'a fox and a whale', n=2)
    boards, library = services.library.boards, services.library
    board = await boards.create(ada, 'Open')
    await boards.add_images(ada, board.id, [fox])
    link = await boards.create_link(ada, board.id, expires_in=timedelta(hours=1))
    token = link.path.removeprefix('/b/')
    seen, page = await library.linked_board_images(token, ImageQuery())
    assert (seen.id, seen.role, [r.id for r in page.items]) == (board.id, 'link', [fox])
    assert (await library.linked_file(token, fox, 'image')).key
    with pytest.raises(NotFound):
        await library.linked_file(token, whale, 'image')  # not on the board
    for forged in ('', 'garbage', token[:-2] + 'xx'):
        with pytest.raises(NotFound):
            await boards.resolve_link(forged)
    library.clock = lambda: utcnow() + timedelta(hours=2)
    with pytest.raises(NotFound):
        await boards.resolve_link(token)
    library.clock = utcnow
    with pytest.raises(NotFound):
        await boards.revoke_link(bob, board.id, link.id)
    await boards.revoke_link(ada, board.id, link.id)
    with pytest.raises(NotFound):
        await boards.resolve_link(token)
    with pytest.raises(InvalidInput):
        await boards.create_link(ada, board.id, expires_in=timedelta(0))


async def test_a_board_zip_holds_its_chosen_images_for_those_who_may_see_it(studio) -> None:
    services, ada, bob = studio
    fox, whale = await make_images(services, ada, 'a fox and a whale', n=2)
    board = await services.library.boards.create(ada, 'Zip')
    await services.library.boards.add_images(ada, board.id, [fox])
    data = b''.join([c async for c in await services.library.build_board_zip(ada, board.id, [fox])])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert len(archive.namelist()) == 1
    with pytest.raises(NotFound):
        await services.library.build_board_zip(ada, board.id, [fox, whale])  # whale is not on it
    with pytest.raises(NotFound):
        await services.library.build_board_zip(bob, board.id, [fox])


async def test_the_owner_renames_describes_and_picks_the_cover_which_falls_back_to_the_newest(studio) -> None:
    services, ada, bob = studio
    (fox,) = await make_images(services, ada, 'a fox')
    (whale,) = await make_images(services, ada, 'a whale')  # made later: the newest
    (crane,) = await make_images(services, ada, 'a crane')  # never on the board
    boards = services.library.boards
    board = await boards.create(ada, 'Animals', 'for the zine')
    assert (board.cover_image_id, board.cover_chosen) == (None, False)  # no images: no cover
    await boards.add_images(ada, board.id, [fox, whale])
    assert ((await boards.get(ada, board.id)).cover_image_id, (await boards.get(ada, board.id)).cover_chosen) == (
        whale, False)  # nobody chose: the newest image

    edited = await boards.update(ada, board.id, name='  Wild   animals ', description=' <b>spring</b> issue ')
    assert (edited.name, edited.description) == ('Wild animals', '<b>spring</b> issue')  # text, kept as written
    for bad, field in (({'name': '   '}, 'name'), ({'name': 'x' * 101}, 'name'),
                       ({'description': 'x' * 1001}, 'description'), ({'cover_image_id': crane}, 'cover_image_id'),
                       ({'name': 'Renamed', 'cover_image_id': 999999}, 'cover_image_id')):
        with pytest.raises(InvalidInput) as refused:
            await boards.update(ada, board.id, **bad)
        assert refused.value.field == field
    assert (await boards.get(ada, board.id)).name == 'Wild animals'  # one bad field refused the lot

    chosen = await boards.update(ada, board.id, cover_image_id=fox)
    assert (chosen.cover_image_id, chosen.cover_chosen) == (fox, True)
    assert [(b.id, b.cover_image_id) for b in await boards.visible_to(ada)] == [(board.id, fox)]
    assert (await boards.update(ada, board.id, clear_cover=True)).cover_image_id == whale
    await boards.update(ada, board.id, cover_image_id=fox)

    await boards.remove_images(ada, board.id, [fox])  # the cover leaves the board: the newest image is shown
    assert ((await boards.get(ada, board.id)).cover_image_id, (await boards.get(ada, board.id)).cover_chosen) == (
        whale, False)
    await boards.add_images(ada, board.id, [fox])
    assert (await boards.get(ada, board.id)).cover_image_id == whale  # a removed cover is not chosen again
    await boards.update(ada, board.id, cover_image_id=fox)
    await services.library.delete_images(ada, [fox])  # a deleted cover falls back too
    assert (await boards.get(ada, board.id)).cover_image_id == whale
    with pytest.raises(InvalidInput):
        await boards.update(ada, board.id, cover_image_id=fox)
    await boards.remove_images(ada, board.id, [whale])
    assert (await boards.get(ada, board.id)).cover_image_id is None

    with pytest.raises(NotFound):  # another user: the same 404 as a missing board
        await boards.update(bob, board.id, cover_image_id=whale)


async def test_only_the_owner_edits_covers_and_links_a_shared_board(studio) -> None:
    services, ada, bob = studio
    cyd = await add_user(services, 'cyd@example.com')
    group = await team(services, (ada, 'admin'), (bob, 'member'), (cyd, 'editor'))
    (fox,) = await make_images(services, ada, 'a fox')
    boards = services.library.boards
    board = await boards.create(ada, 'Zine')
    await boards.add_images(ada, board.id, [fox])
    await boards.share_with_group(ada, board.id, group)
    link = await boards.create_link(ada, board.id)
    for someone in (bob, cyd):  # a member looks; an editor adds and removes images, nothing more
        for attempt in (lambda u=someone: boards.update(u, board.id, name='Mine'),
                        lambda u=someone: boards.update(u, board.id, cover_image_id=fox),
                        lambda u=someone: boards.links_of(u, board.id),
                        lambda u=someone: boards.create_link(u, board.id),
                        lambda u=someone: boards.revoke_link(u, board.id, link.id)):
            with pytest.raises(Forbidden):
                await attempt()
    assert (await boards.get(ada, board.id)).name == 'Zine'
    assert [row.state(utcnow()) for row in await boards.links_of(ada, board.id)] == ['live']


async def test_the_owner_lists_links_with_their_state_and_a_gone_link_shows_nothing(studio) -> None:
    services, ada, bob = studio
    (fox,) = await make_images(services, ada, 'a fox')
    boards, library = services.library.boards, services.library
    board = await boards.create(ada, 'Open')
    await boards.add_images(ada, board.id, [fox])
    forever = await boards.create_link(ada, board.id)
    hour = await boards.create_link(ada, board.id, expires_in=timedelta(hours=1))
    revoked = await boards.create_link(ada, board.id, expires_in=timedelta(days=7))
    await boards.revoke_link(ada, board.id, revoked.id)
    later = utcnow() + timedelta(hours=2)
    listed = await boards.links_of(ada, board.id)
    assert [row.id for row in listed] == [revoked.id, hour.id, forever.id]  # newest first
    assert [row.state(utcnow()) for row in listed] == ['revoked', 'live', 'live']
    assert [row.state(later) for row in listed] == ['revoked', 'expired', 'live']
    assert listed[0].revoked_at is not None and listed[1].expires_at is not None
    with pytest.raises(NotFound):
        await boards.links_of(bob, board.id)
    with pytest.raises(NotFound):  # a link of another board is not this board's to revoke
        await boards.revoke_link(ada, (await boards.create(ada, 'Other')).id, forever.id)

    token = forever.path.removeprefix('/b/')
    count, chunks = await library.linked_board_zip(token)
    with zipfile.ZipFile(io.BytesIO(b''.join([c async for c in chunks]))) as archive:
        assert (count, len(archive.namelist())) == (1, 1)
    library.clock = lambda: later
    with pytest.raises(NotFound):  # expired: no zip, no page
        await library.linked_board_zip(hour.path.removeprefix('/b/'))
    library.clock = utcnow
    for gone in (revoked.path.removeprefix('/b/'), 'forged'):
        with pytest.raises(NotFound):
            await library.linked_board_zip(gone)
    await boards.remove_images(ada, board.id, [fox])
    with pytest.raises(InvalidInput):
        await library.linked_board_zip(token)


async def test_sharing_public_links_and_deleting_a_board_are_in_the_audit_log(studio) -> None:
    """Each changes who may see the board's images, so each is audited with its actor, like a group change."""
    services, ada, bob = studio
    group = await team(services, (ada, 'member'), (bob, 'member'))
    boards = services.library.boards
    board = await boards.create(ada, 'Audited')
    await boards.share_with_group(ada, board.id, group)
    await boards.share_with_group(ada, board.id, group)  # no change, no entry
    await boards.share_with_group(ada, board.id, None)
    link = await boards.create_link(ada, board.id)
    await boards.revoke_link(ada, board.id, link.id)
    await boards.revoke_link(ada, board.id, link.id)  # already revoked: no second entry
    await boards.delete(ada, board.id)

    def board_events(s):  # type: ignore[no-untyped-def]
        rows = s.exec(select(AuditEvent).where(col(AuditEvent.action).startswith('board.')).order_by(col(AuditEvent.id)))
        return [(e.actor_id, e.action, e.target, e.detail) for e in rows]
    target = f'board:{board.id}'
    assert await services.db.run(board_events) == [
        (ada, 'board.share', target, f'group:None -> group:{group}'),
        (ada, 'board.share', target, f'group:{group} -> private'),
        (ada, 'board.link_create', target, f'link:{link.id} expires:never'),
        (ada, 'board.link_revoke', target, f'link:{link.id}'),
        (ada, 'board.delete', target, 'Audited'),
    ]
