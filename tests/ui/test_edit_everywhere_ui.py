"""Edit from everywhere: a generator result, a gallery tile and the lightbox open one edit dialog, which takes an
instruction plus extra references (uploads, or gallery images picked without downloading them) within the model's
limit; only the viewer's own images can be picked."""

from __future__ import annotations

import io
import json

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from PIL import Image as PILImage
from sqlmodel import select

from nanogen.models import Image, Prompt
from tests.support.gallery import (
    ada_with_images,
    make_images,
    offers_edit,
    svc,
    tick,
    tile,
    tile_event,
    tile_ids,
    user_id,
    versions,
)
from tests.ui.helpers import elements, eventually, should_not_see, should_see, sign_in
from tests.ui.studio import job_cards, job_of, press, submit_on_generator


async def edit_prompt_of(source: int) -> Prompt:
    """The generation started by editing `source`, once it has finished."""
    async def finished() -> Prompt | None:
        rows = await svc().db.run(lambda s: list(s.exec(select(Prompt).where(Prompt.source_image_id == source))))
        return rows[0] if rows and rows[0].status in ('COMPLETED', 'FAILED') else None
    return await eventually(finished, message=f'no finished edit of image {source}')


def png() -> bytes:
    out = io.BytesIO()
    PILImage.new('RGB', (32, 32), (200, 30, 30)).save(out, 'PNG')
    return out.getvalue()


async def test_a_gallery_tile_edits_with_a_picked_gallery_image_and_never_lists_anothers(
        user: User, create_user) -> None:  # type: ignore[no-untyped-def]
    bob = create_user()
    await sign_in(bob, name='Bob', email='bob@example.com')
    [bobs] = await make_images(await user_id('bob@example.com'), 'bob keeps this one private')
    uid, [[source], [logo]] = await ada_with_images(user, ('a plain white mug', 1, 512), ('a small fox logo', 1, 512))
    await user.open('/gallery')
    await eventually(lambda: offers_edit(user, source))
    tile_event(user, source, 'edit', source)
    await should_see(user, marker='edit-dialog')
    await should_see(user, 'Nano Banana takes the image and up to 3 more reference images (0 chosen).')
    user.find(marker='edit-dialog-instruction').type('put the "logo" on the mug \\ <b>now</b>')
    user.find(marker='edit-pick').click()
    await should_see(user, marker=f'pick-{logo}')
    await should_not_see(user, marker=f'pick-{source}')  # the image itself is already in
    await should_not_see(user, marker=f'pick-{bobs}')  # the library lists the viewer's own images only
    user.find(marker=f'pick-{logo}').elements.pop().value = True
    user.find(marker='picker-done').click()
    await should_see(user, marker=f'edit-picked-{logo}')
    user.find(marker='edit-dialog-submit').click()
    edit = await edit_prompt_of(source)
    assert edit.status == 'COMPLETED', edit.error_message
    assert edit.prompt == 'put the "logo" on the mug \\ <b>now</b>' and edit.user_id == uid
    assert len(json.loads(edit.reference_urls)) == 2  # the image and the picked one, as signed reference URLs
    new = await svc().db.run(lambda s: s.get(Image, edit.image_id))
    assert new.parent_image_id == source
    await eventually(lambda: tile(user, new.id) is not None)  # the new version arrives as a live tile


async def test_the_picker_stops_at_the_models_limit_with_a_clear_message(user: User) -> None:
    _uid, made = await ada_with_images(user, *((f'picture number {n}', 1, 512) for n in range(5)))
    source, *others = [ids[0] for ids in made]
    await user.open('/gallery')
    await eventually(lambda: offers_edit(user, source))
    tile_event(user, source, 'edit', source)
    user.find(marker='edit-pick').click()
    for image_id in others:
        await should_see(user, marker=f'pick-{image_id}')
        user.find(marker=f'pick-{image_id}').elements.pop().value = True
    await should_see(user, 'Nano Banana takes at most 3 more reference images: unselect 1.')
    assert not user.find(marker='picker-done').elements.pop().enabled
    user.find(marker=f'pick-{others[0]}').elements.pop().value = False
    await should_see(user, '3 selected; room for 0 more.')
    user.find(marker='picker-done').click()
    await should_see(user, 'Nano Banana takes the image and up to 3 more reference images (3 chosen).')
    user.find(marker='edit-model').elements.pop().value = 'nanobanana-2'  # a model that takes more
    await should_see(user, 'Nano Banana 2 takes the image and up to 13 more reference images (3 chosen).')


async def test_a_generator_result_edits_into_a_new_job_card(user: User) -> None:
    services, uid, prompt = await submit_on_generator(user, 'a lighthouse on a cliff', latency_s=0.2)
    image_id = await eventually(lambda: _first_image(uid, prompt.id), message='the result never came')
    await eventually(lambda: image_id in job_of(user, prompt.id).get('images', ()))  # with its Edit button
    for crafted in (True, str(image_id), image_id + 1000, [image_id], None):  # not one of this card's results
        press(user, prompt.id, 'edit', crafted)
    assert not elements(user, marker='edit-dialog')  # the server refused them all
    press(user, prompt.id, 'edit', image_id)
    await should_see(user, marker='edit-dialog')
    user.find(marker='edit-dialog-instruction').type('make the sky stormy')
    user.find(marker='edit-dialog-submit').click()
    await eventually(lambda: len(job_cards(user)) == 2, message='the edit got no job card')
    edit = await edit_prompt_of(image_id)
    assert edit.status == 'COMPLETED' and edit.prompt == 'make the sky stormy'
    del services


async def _first_image(uid: int, prompt_id: int) -> int | None:
    images = await svc().library.images_of_prompt(uid, prompt_id)
    return images[0].id if images else None


async def test_the_lightbox_edits_with_an_upload_and_opens_the_new_version(user: User) -> None:
    _uid, [[source]] = await ada_with_images(user, ('a red mug on a table', 1, 512))
    await user.open(f'/gallery?image={source}')
    await should_see(user, marker='edit-more')
    user.find(marker='edit-instruction').type('add this sticker')
    user.find(marker='edit-more').click()
    await should_see(user, marker='edit-dialog')
    assert user.find(marker='edit-dialog-instruction').elements.pop().value == 'add this sticker'
    upload = user.find(marker='edit-upload').elements.pop()
    assert isinstance(upload, ui.upload)
    await upload.handle_uploads([SmallFileUpload('sticker.png', 'image/png', png())])
    await should_see(user, 'sticker.png')
    user.find(marker='edit-dialog-submit').click()
    edit = await edit_prompt_of(source)
    assert edit.status == 'COMPLETED', edit.error_message
    assert len(json.loads(edit.reference_urls)) == 2
    await eventually(lambda: f'/files/{edit.image_id}/image' in str(
        user.find(marker='lightbox-image').elements.pop().source), message='the new version did not open')


async def test_group_versions_collapses_a_tree_to_its_root_with_a_count_badge(user: User) -> None:
    uid, [[source], [other]] = await ada_with_images(user, ('a plain white mug', 1, 512), ('a blue whale', 1, 512))
    await svc().edits.edit(uid, source, 'put a logo on the mug')
    version = (await edit_prompt_of(source)).image_id
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([source, other, version]))
    assert versions(user, source) == 2  # the badge's count: the whole tree
    assert versions(user, version) == 2
    assert versions(user, other) == 1  # no versions, no badge
    await should_see(user, '2')  # the badge shows its count as text
    user.find(marker='group-versions').elements.pop().value = True
    await eventually(lambda: tile_ids(user) == sorted([source, other]), message='versions did not collapse')
    assert versions(user, source) == 2


async def test_selected_gallery_images_open_the_generator_as_references_within_the_models_limit(
        user: User, create_user) -> None:  # type: ignore[no-untyped-def]
    bob = create_user()
    await sign_in(bob, name='Bob', email='bob@example.com')
    [bobs] = await make_images(await user_id('bob@example.com'), 'bob keeps this one private')
    uid, made = await ada_with_images(user, *((f'reference number {n}', 1, 512) for n in range(5)))
    ids = [m[0] for m in made]
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted(ids))
    for image_id in ids:
        tick(user, image_id, True)
    user.find(marker='use-as-references').click()
    await should_see(user, marker='reference-preview')
    await eventually(lambda: len(user.find(marker='reference-preview').elements) == 5, message='not 5 previews')
    await should_see(user, '5 reference images chosen; Nano Banana takes at most 4: remove 1, or choose a model '
                           'that takes more.')
    user.find(marker='model').elements.pop().value = 'nanobanana-2'
    await should_not_see(user, 'Nano Banana takes at most 4')
    user.find(marker='prompt').type('these five, as a poster')
    user.find(marker='generate').click()
    async def composed() -> Prompt | None:
        latest = await svc().library.recent_prompts(uid, limit=1)
        return latest[0] if latest and latest[0].prompt == 'these five, as a poster' else None
    prompt = await eventually(composed, message='nothing was queued')
    assert len(json.loads(prompt.reference_urls)) == 5 and prompt.model == 'nanobanana-2'

    await user.open(f'/generator?refs={bobs}')  # another user's image is not there for her
    await should_see(user, 'That image does not exist.')
    await should_not_see(user, marker='reference-preview')
