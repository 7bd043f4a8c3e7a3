"""Issue 13 "What to build" 1: one delete path for images, whoever deletes (gallery, API, retention, admin).

Every caller goes through `Library.delete_images` / `nanogen.library.deletes.Deletes`: hidden from every reader at
once, purged (objects, then rows) when the caller's undo window is over. These tests fail if a caller bypasses it.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import pytest
from nicegui.testing import User
from sqlmodel import select

from nanogen.bootstrap import Services
from nanogen.errors import NotFound
from nanogen.library import queries
from nanogen.library.retention import RetentionService
from nanogen.models import Image, PendingDelete, Prompt, Share, utcnow
from tests.integration.api_support import api_user, app_services, error_of
from tests.support.library import make_images
from tests.ui.helpers import eventually


def keys_of(images: list[Image]) -> list[str]:
    return [k for i in images for k in (i.key, i.original_key, i.thumb_key)]


async def rows(services: Services, **where: object) -> list[Image]:
    return await services.db.run(lambda s: list(s.exec(select(Image).filter_by(**where))))


def purged_ids(caplog: pytest.LogCaptureFixture) -> set[int]:
    """The ids the one path's purge step reported (its log line is the path's observable end)."""
    found: set[int] = set()
    for record in caplog.records:  # the message, not msg/args: the log scrubber may have formatted it already
        match = re.fullmatch(r'purged images \[([\d, ]*)\]', record.getMessage())
        if record.name == 'nanogen.library.deletes' and match:
            found.update(int(i) for i in match.group(1).split(',') if i.strip())
    return found


async def assert_hidden_everywhere(services: Services, user_id: int, image_id: int, prompt_id: int,
                                   token: str) -> None:
    library = services.library
    for read in (lambda: library.get_image(user_id, image_id), lambda: library.file_for(user_id, image_id, 'thumb'),
                 lambda: library.image_row(user_id, image_id), lambda: library.build_zip(user_id, [image_id]),
                 lambda: library.set_favourite(user_id, image_id, True),
                 lambda: library.create_share(user_id, image_id), lambda: library.resolve_share(token),
                 lambda: library.delete_images(user_id, [image_id])):
        with pytest.raises(NotFound):
            await read()
    assert await library.image_rows(user_id, [image_id]) == []
    assert image_id not in [r.id for r in (await queries.list_images(services.db, user_id,
                                                                     queries.ImageQuery())).items]
    assert image_id not in [i.id for i in (await queries.images_of_prompts(services.db, user_id,
                                                                           [prompt_id]))[prompt_id]]
    assert image_id not in [i.id for i in await library.images_of_prompt(user_id, prompt_id)]
    assert image_id not in (await library.image_ids_of_prompts(user_id, [prompt_id])).get(prompt_id, [])


@pytest.mark.parametrize('caller', ['gallery', 'library'])
async def test_an_image_deleted_by_any_caller_is_hidden_from_every_reader_until_restored(studio, caller) -> None:
    """Issue 13 item 1: an image in its undo window is gone for every reader (one reader, `own_image`), whichever
    caller deleted it; restoring brings it back for all of them; its files stay until the window is over."""
    services, ada, _bob = studio
    first, second = await make_images(services, ada, 'a lantern on a pier', n=2)
    (image,) = await rows(services, id=first)
    token = (await services.library.create_share(ada, first)).path.removeprefix('/s/')
    services.library.undo_window_s = 30  # long enough that the purge cannot race the reads
    if caller == 'gallery':
        assert (await services.library.delete_images(ada, [first])).ids == [first]
    else:
        deleted = await services.library.delete_images(ada, [first], undo_window_s=30)
        assert deleted.ids == [first] and deleted.undo_until is not None
        assert deleted.undo_until > utcnow() + timedelta(seconds=25)
    await assert_hidden_everywhere(services, ada, first, image.prompt_id, token)
    assert [r.id for r in await services.library.image_rows(ada, [first, second])] == [second]
    assert all([await services.storage.exists(k) for k in keys_of([image])])  # undo must still be possible

    assert await services.library.restore_images(ada, [first]) == [first]
    assert (await services.library.get_image(ada, first)).id == first
    assert (await services.library.resolve_share(token)).image_id == first


async def test_retention_and_admin_delete_purge_through_the_one_path_and_leave_no_objects(
        studio, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 13 item 1: retention and the admin's "delete user" hide and purge through the library's one path (no
    undo), so no object, row, share link or prompt pointer of the deleted images is left."""
    services, ada, bob = studio
    old, new = await make_images(services, ada, 'an old postcard', n=2)
    bobs = await make_images(services, bob, 'bob and his kite', n=2)
    await services.library.create_share(ada, old)

    def age(s) -> None:  # type: ignore[no-untyped-def]
        row = s.get(Image, old)
        row.created_at = utcnow() - timedelta(days=31)
        s.add(row)
        s.commit()
    await services.db.write(age)
    old_images = await rows(services, id=old)
    retention = RetentionService(library=services.library,
                                 settings=services.settings.model_copy(update={'retention_days': 30}))
    with caplog.at_level(logging.INFO, logger='nanogen.library.deletes'):
        assert await retention.purge_once() == 1
        assert purged_ids(caplog) == {old}
        assert [i.id for i in await rows(services, user_id=ada)] == [new]
        assert not any([await services.storage.exists(k) for k in keys_of(old_images)])
        assert await services.db.run(lambda s: list(s.exec(select(Share)))) == []
        prompts = await services.db.run(lambda s: list(s.exec(select(Prompt).where(Prompt.user_id == ada))))
        assert prompts and all(p.image_id != old for p in prompts)

        bob_images = await rows(services, user_id=bob)
        assert sorted(i.id for i in bob_images) == sorted(bobs)
        await services.admin.delete_user(ada, bob)
        assert purged_ids(caplog) == {old, *bobs}
    assert await rows(services, user_id=bob) == []
    assert not any([await services.storage.exists(k) for k in keys_of(bob_images)])
    assert await services.db.run(lambda s: list(s.exec(select(PendingDelete)))) == []


async def test_admin_delete_user_queues_the_objects_of_an_image_made_while_it_ran(studio, monkeypatch) -> None:
    """An image row that appears after the bulk delete (a job ending meanwhile) goes with the user's rows, and its
    objects are queued in pending_deletes, so the retry job deletes them: none is left behind unreferenced."""
    services, ada, bob = studio
    _first, late = await make_images(services, bob, 'a kite over a hill', n=2)
    late_image = (await rows(services, id=late))[0]
    bulk = services.library.deletes.delete_where

    async def missing_the_late_one(user_id: int) -> int:  # as if `late` was saved after the bulk delete's reads
        return await bulk(Image.user_id == user_id, Image.id != late)
    monkeypatch.setattr(services.library, 'delete_all_of', missing_the_late_one)
    await services.admin.delete_user(ada, bob)
    assert await rows(services, user_id=bob) == []
    queued = await services.db.run(lambda s: sorted(p.key for p in s.exec(select(PendingDelete))))
    assert queued == sorted(keys_of([late_image]))
    assert await services.library.retry_pending_deletes() == 3
    assert not any([await services.storage.exists(k) for k in keys_of([late_image])])


@pytest.fixture
def short_undo(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setenv('NANOGEN_UNDO_WINDOW', '1.0')
    return 1.0


async def test_api_delete_gives_undo_until_and_restore_undoes_it_within_the_window(short_undo: float,
                                                                                     user: User) -> None:
    """Issue 13 item 1: DELETE /api/v1/images/{id} has the gallery's semantics: hidden at once, `undo_until` says
    until when POST .../restore brings it back (only for its owner); after that the files are gone and restore
    is a 404."""
    ada, bob = await api_user(user), await api_user(user, 'bob@example.com')
    r = await ada.client.post('/api/v1/images/generate', params={'wait': 20},
                              json={'prompt': 'a paper crane', 'size': 512}, timeout=30)
    image_id = r.json()['data']['image_ids'][0]
    services = app_services()
    images = await rows(services, id=image_id)

    gone = await ada.client.delete(f'/api/v1/images/{image_id}')
    data = gone.json()['data']
    assert gone.status_code == 200 and (data['id'], data['deleted']) == (image_id, True)
    until = datetime.fromisoformat(data['undo_until'])
    assert timedelta(0) < until - utcnow().replace(tzinfo=until.tzinfo) <= timedelta(seconds=short_undo)
    assert error_of(await ada.get(f'/api/v1/images/{image_id}'), 404)['code'] == 'not_found'
    assert error_of(await bob.client.post(f'/api/v1/images/{image_id}/restore'), 404)['code'] == 'not_found'

    back = await ada.client.post(f'/api/v1/images/{image_id}/restore')
    assert back.status_code == 200 and back.json()['data']['id'] == image_id
    assert (await ada.get(f'/api/v1/images/{image_id}')).status_code == 200
    assert all([await services.storage.exists(k) for k in keys_of(images)])

    assert (await ada.client.delete(f'/api/v1/images/{image_id}')).status_code == 200

    async def purged() -> bool:
        return not await rows(services, id=image_id)
    await eventually(purged, timeout=10, message='the image was not purged after its undo window')
    assert not any([await services.storage.exists(k) for k in keys_of(images)])
    assert error_of(await ada.client.post(f'/api/v1/images/{image_id}/restore'), 404)['code'] == 'not_found'


async def test_delete_image_without_undo_is_the_one_path_with_no_window(studio, caplog) -> None:
    """Issue 13 item 1: `Library.delete_image` (no undo) is the one path with a window of 0: purged before it
    returns."""
    services, ada, _bob = studio
    (image_id,) = await make_images(services, ada, 'a quick sketch')
    images = await rows(services, id=image_id)
    with caplog.at_level(logging.INFO, logger='nanogen.library.deletes'):
        await services.library.delete_image(ada, image_id)
    assert purged_ids(caplog) == {image_id}
    assert await rows(services, id=image_id) == []
    assert not any([await services.storage.exists(k) for k in keys_of(images)])
