"""The gallery service on SQLite and PostgreSQL, with images made by the contract fake over real HTTP."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from sqlmodel import select

from nanogen.bootstrap import Services
from nanogen.errors import InvalidInput, NotFound
from nanogen.library.downloads import parse_ids
from nanogen.library.queries import ImageQuery, list_images
from nanogen.library.shares import SHARE_GONE
from nanogen.models import Image, Share, utcnow
from tests.support.library import make_images
from tests.support.waits import until


async def listed(services: Services, user_id: int, **query: object) -> list[int]:
    page = await list_images(services.db, user_id, ImageQuery(**query))  # type: ignore[arg-type]
    return [row.id for row in page.items]


async def test_favourite_toggles_and_filters_and_is_only_for_the_owner(studio) -> None:
    services, ada, bob = studio
    first, second = await make_images(services, ada, 'two foxes in a field', n=2)
    library = services.library
    assert await library.toggle_favourite(ada, first) is True
    assert await listed(services, ada, favourites_only=True) == [first]
    assert await library.toggle_favourite(ada, first) is False
    assert await library.set_favourite(ada, second, True) is True
    assert await listed(services, ada, favourites_only=True) == [second]
    with pytest.raises(NotFound):  # Bob cannot touch Ada's image, and learns only "does not exist"
        await library.toggle_favourite(bob, first)
    with pytest.raises(NotFound):
        await library.set_favourite(ada, 999_999, True)


async def test_delete_hides_at_once_undo_brings_back_and_the_window_then_removes_for_real(studio) -> None:
    services, ada, bob = studio
    first, second = await make_images(services, ada, 'a castle made of sand', n=2)
    library = services.library
    with pytest.raises(NotFound):  # one foreign id refuses the lot: nothing of Ada's is hidden by Bob
        await library.delete_images(bob, [first])
    assert sorted(await listed(services, ada)) == sorted([first, second])

    assert (await library.delete_images(ada, [first, second])).ids == [first, second]
    assert await listed(services, ada) == []
    with pytest.raises(NotFound):
        await services.library.get_image(ada, first)
    assert await library.restore_images(ada, [first]) == [first]
    assert await listed(services, ada) == [first]

    keys = await services.db.run(lambda s: [(r.key, r.original_key, r.thumb_key) for r in
                                            s.exec(select(Image).where(Image.id == second))])
    async def second_purged() -> bool:  # the undo window is 0.3 s in this test; a busy machine may take longer
        rows = await services.db.run(lambda s: [r.id for r in s.exec(select(Image))])
        assert first in rows  # the restored image is never purged
        return second not in rows
    await until(second_purged, what='purge of the image left deleted')
    for key in keys[0]:
        assert not await services.storage.exists(key)
    assert await library.restore_images(ada, [second]) == []  # too late: says so by restoring nothing


async def test_the_sweep_removes_soft_deleted_images_left_by_a_restart(studio) -> None:
    services, ada, _bob = studio
    (image_id,) = await make_images(services, ada, 'a forgotten lighthouse')

    def mark_deleted_long_ago(s) -> None:  # as if the process died during the undo window
        row = s.get(Image, image_id)
        row.deleted_at = utcnow() - timedelta(minutes=5)
        s.add(row)
        s.commit()
    await services.db.write(mark_deleted_long_ago)
    assert services.library.purge_deleted in services.library.sweeps
    for sweep in services.library.sweeps:
        await sweep()
    assert await services.db.run(lambda s: s.get(Image, image_id)) is None


async def test_share_links_resolve_until_revoked_expired_or_deleted(studio) -> None:
    services, ada, bob = studio
    first, second = await make_images(services, ada, 'a shared sunrise over hills', n=2)
    library = services.library
    link = await library.create_share(ada, first)
    token = link.path.removeprefix('/s/')
    shared = await library.resolve_share(token)
    assert (shared.image_id, shared.prompt) == (first, 'a shared sunrise over hills')
    assert await services.library.read(shared.file)  # the bytes are there

    assert [s.id for s in await library.shares_of(ada, first)] == [link.id]
    with pytest.raises(NotFound):  # Bob can neither share, list nor revoke Ada's
        await library.create_share(bob, first)
    with pytest.raises(NotFound):
        await library.shares_of(bob, first)
    with pytest.raises(NotFound):
        await library.revoke_share(bob, link.id)
    await library.revoke_share(ada, link.id)
    with pytest.raises(NotFound, match=SHARE_GONE):
        await library.resolve_share(token)

    for forged in ('garbage', token[:-2] + 'xx', '', 'MQ'):
        with pytest.raises(NotFound, match=SHARE_GONE):
            await library.resolve_share(forged)

    with pytest.raises(InvalidInput):
        await library.create_share(ada, second, expires_in=timedelta(0))
    short = await library.create_share(ada, second, expires_in=timedelta(hours=1))
    assert (await library.resolve_share(short.path.removeprefix('/s/'))).image_id == second
    library.clock = lambda: utcnow() + timedelta(hours=2)
    with pytest.raises(NotFound, match=SHARE_GONE):
        await library.resolve_share(short.path.removeprefix('/s/'))
    library.clock = utcnow

    live = await library.create_share(ada, second)
    await library.delete_images(ada, [second])
    with pytest.raises(NotFound, match=SHARE_GONE):  # a deleted image is invisible through its links too
        await library.resolve_share(live.path.removeprefix('/s/'))
    async def shares_purged() -> bool:
        return await services.db.run(lambda s: list(s.exec(select(Share).where(Share.image_id == second)))) == []
    await until(shares_purged, what="purge of the deleted image's links")


async def test_zip_holds_exactly_the_chosen_images_of_the_viewer(studio) -> None:
    services, ada, bob = studio
    a1, a2, a3 = await make_images(services, ada, 'three tiny robots', n=3)
    (b1,) = await make_images(services, bob, 'a robot belonging to bob')
    data = b''.join([chunk async for chunk in await services.library.build_zip(ada, [a3, a1])])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert len(names) == 2 and all(n.endswith('.png') for n in names)
        rows = {r.id: r for r in await services.library.image_rows(ada, [a1, a3])}
        stored = {n: archive.read(n) for n in names}
    for image_id in (a1, a3):
        image = await services.library.get_image(ada, image_id)
        assert await services.storage.get(image.key) in stored.values()
    assert rows[a1].prompt == 'three tiny robots'
    with pytest.raises(NotFound):  # Bob's image in Ada's zip: refused like a missing id, nothing built
        await services.library.build_zip(ada, [a1, b1])
    await services.library.delete_images(ada, [a2])
    with pytest.raises(NotFound):
        await services.library.build_zip(ada, [a2])


def test_zip_ids_are_parsed_strictly_with_messages() -> None:
    assert parse_ids('3, 1,3,2') == [3, 1, 2]
    with pytest.raises(InvalidInput, match='Choose at least one image'):
        parse_ids('')
    with pytest.raises(InvalidInput, match='is not an image id'):
        parse_ids('1,two')
    with pytest.raises(InvalidInput, match='is not an image id'):
        parse_ids('-4')
    with pytest.raises(InvalidInput, match='at most 100 images; you chose 101'):
        parse_ids(','.join(str(i) for i in range(1, 102)))
