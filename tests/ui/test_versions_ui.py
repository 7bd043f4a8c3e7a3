"""Versions in the lightbox: edit by instruction, edit the edit, see the three-version lineage strip, compare."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.helpers import elements, eventually, should_see
from tests.ui.studio import wait_finished
from tests.ui.test_gallery_ui import ada_with_images, svc


def strip_ids(user: User) -> list[int]:
    return [int(m.removeprefix('version-')) for e in elements(user, marker='version-strip')
            for child in e.descendants() for m in child._markers if m.startswith('version-') and m[8:].isdigit()]


def shown_id(user: User) -> int:
    source = user.find(marker='lightbox-image').elements.pop().source
    return int(str(source).split('/')[2])


async def edit_in_lightbox(user: User, instruction: str) -> int:
    before = shown_id(user)
    await should_see(user, marker='edit-instruction')  # the panel is built after the image (it reads the lineage)
    user.find(marker='edit-instruction').type(instruction)
    user.find(marker='edit-submit').click()
    await should_see(user, 'Editing… the new version opens here when it is ready.')
    return await eventually(lambda: shown_id(user) if shown_id(user) != before else None,
                            message='the edited version never opened')


async def test_an_edit_of_an_edit_shows_a_three_version_lineage_and_compares(user: User) -> None:
    uid, [[original]] = await ada_with_images(user, ('a red mug on a table', 1, 512))
    await user.open(f'/gallery?image={original}')
    await should_see(user, marker='lightbox-prompt')
    assert strip_ids(user) == [original] and user.find(marker='version-count').elements.pop().text == '1'
    first = await edit_in_lightbox(user, 'put a logo on the mug')
    await should_see(user, 'put a logo on the mug')
    second = await edit_in_lightbox(user, 'make the sky stormy')
    await eventually(lambda: strip_ids(user) == [original, first, second], message=f'strip: {strip_ids(user)}')
    assert user.find(marker='version-count').elements.pop().text == '3'
    assert user.find(marker='lightbox-prompt').elements.pop().text == 'make the sky stormy'
    lineage = await svc().edits.lineage(uid, second)
    assert lineage.chain == [original, first, second]
    user.find(marker='compare-parent').click()
    await should_see(user, marker=f'compare-image-{first}')
    await should_see(user, marker=f'compare-image-{second}')
    user.find(marker='compare-slider-tab').click()
    slider = user.find(marker='compare-slider').elements.pop()
    slider.value = 20
    top = user.find(marker='compare-top').elements.pop()
    assert top.style['clip-path'] == 'inset(0 80% 0 0)'
    user.find(marker='close-compare').click()
    user.find(marker=f'version-{original}').click()  # any version opens from the strip
    await eventually(lambda: shown_id(user) == original)
    # The strip is built after the image (it reads the lineage): wait for it, do not race it.
    await eventually(lambda: strip_ids(user) == [original, first, second], message=f'strip: {strip_ids(user)}')


async def test_an_edit_retried_or_tried_with_another_model_is_still_a_version(user: User) -> None:
    uid, [[original]] = await ada_with_images(user, ('a red mug on a table', 1, 512))
    services = svc()
    services.demo.config.down_endpoints, services.demo.config.down_code = ('generate-2',), 505
    failed = await services.edits.edit(uid, original, 'put a logo on the mug', model='nanobanana-2', resolution='2K')
    assert await wait_finished(services, uid, failed.id) == 'FAILED'

    async def version_of(prompt_id: int) -> tuple[int | None, list[int | None]]:
        assert await wait_finished(services, uid, prompt_id) == 'COMPLETED'
        prompt = await services.library.get_prompt(uid, prompt_id)
        return prompt.source_image_id, [i.parent_image_id for i in await services.library.images_of_prompt(
            uid, prompt_id)]

    tried = await services.generation.retry(uid, failed.id, model='nanobanana-pro')  # the job card's "Try"
    assert (tried.model, tried.resolution) == ('nanobanana-pro', '2K')
    assert await version_of(tried.id) == (original, [original])
    services.demo.config.down_endpoints = ()
    again = await services.generation.retry(uid, failed.id)  # the job card's "Retry"
    assert await version_of(again.id) == (original, [original])
    assert (await services.edits.lineage(uid, original)).children == [
        i.id for p in (tried.id, again.id) for i in await services.library.images_of_prompt(uid, p)]


async def test_the_lightbox_edit_and_the_edit_dialog_show_the_cost_before_submitting(user: User) -> None:
    _uid, [[original]] = await ada_with_images(user, ('a red mug on a table', 1, 512))
    await user.open(f'/gallery?image={original}')
    await should_see(user, marker='edit-instruction')
    # The generator's prices for one image (tests/ui/test_generator_models.py): the same estimate function.
    assert user.find(marker='edit-estimate').elements.pop().text == 'Estimated cost: $0.0125'  # the default model
    user.find(marker='edit-more').click()
    await should_see(user, marker='edit-dialog')
    shown = user.find(marker='edit-dialog-estimate').elements.pop()
    assert shown.text == 'Estimated cost: $0.0125'
    for model, cost in (('nanobanana-2', '$0.0400'), ('nanobanana-pro', '$0.0900')):
        user.find(marker='edit-model').elements.pop().value = model
        await eventually(lambda c=cost: shown.text == f'Estimated cost: {c}', message=f'{model}: {shown.text}')
