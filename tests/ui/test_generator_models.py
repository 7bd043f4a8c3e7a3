"""The generator's model choice: each model shows only what it supports, prices follow, and the job uses it."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.helpers import eventually, should_see, sign_in
from tests.ui.studio import app_services, job_of, press, user_id, wait_for_cards


def one(user: User, marker: str):  # type: ignore[no-untyped-def]
    """The element with this marker, shown or hidden (user.find sees only visible ones)."""
    assert user.client is not None
    [element] = [e for e in user.client.elements.values() if marker in e._markers]
    return element


async def test_nano_banana_2_offers_resolutions_its_ratios_and_extras_and_generates(user: User) -> None:
    await sign_in(user, then='/generator')
    await should_see(user, 'Estimated cost: $0.0125')
    assert one(user, 'size').visible and not one(user, 'resolution').visible and one(user, 'count').visible
    assert '8:1' not in one(user, 'ratio').options and not one(user, 'google-search').parent_slot.parent.visible  # type: ignore[union-attr]
    one(user, 'model').value = 'nanobanana-2'
    await should_see(user, 'Estimated cost: $0.0400')
    assert not one(user, 'size').visible and one(user, 'resolution').visible and one(user, 'count').visible
    assert {'8:1', '1:8', '4:1', '1:4', 'auto'} <= set(one(user, 'ratio').options)
    await should_see(user, 'Nano Banana 2 makes one image per request: several images are sent as several requests, '
                          'on one prompt.')
    one(user, 'resolution').value = '4K'
    await should_see(user, 'Estimated cost: $0.0800')
    one(user, 'ratio').value = '8:1'
    one(user, 'google-search').value = True
    one(user, 'output-format').value = 'png'
    user.find(marker='prompt').type('a long harbour panorama')
    user.find(marker='generate').click()
    await wait_for_cards(user)
    services = app_services()
    uid = await user_id(services, 'ada@example.com')

    async def the_prompt():  # type: ignore[no-untyped-def]
        rows = await services.library.recent_prompts(uid, limit=1)
        return rows[0] if rows else None
    prompt = await eventually(the_prompt)
    assert (prompt.model, prompt.resolution, prompt.aspect_ratio, prompt.google_search, prompt.output_format) == (
        'nanobanana-2', '4K', '8:1', True, 'png')
    assert str(prompt.estimated_cost) .startswith('0.08')


async def test_switching_back_to_a_model_without_the_ratio_resets_it(user: User) -> None:
    await sign_in(user, then='/generator')
    one(user, 'model').value = 'nanobanana-2'
    one(user, 'ratio').value = '1:8'
    one(user, 'model').value = 'nanobanana-pro'
    assert one(user, 'ratio').value == '1:1' and 'auto' in one(user, 'ratio').options
    await should_see(user, 'Estimated cost: $0.0900')


async def test_a_model_that_is_down_offers_the_others_and_one_click_retries_with_it(user: User) -> None:
    services = app_services()
    services.demo.config.down_endpoints, services.demo.config.down_code = ('generate-2',), 505
    await sign_in(user, then='/generator')
    one(user, 'model').value = 'nanobanana-2'
    one(user, 'resolution').value = '2K'
    one(user, 'ratio').value = '16:9'
    one(user, 'count').value = 2
    one(user, 'google-search').value = True
    one(user, 'output-format').value = 'png'
    user.find(marker='prompt').type('a harbour in the fog')
    user.find(marker='generate').click()
    await should_see(user, 'Nano Banana 2 is unavailable at the provider (switched off for now, code 505); you were '
                           'not charged. Try Nano Banana (nanobanana) or Nano Banana Pro (nanobanana-pro) instead.')
    uid = await user_id(services, 'ada@example.com')
    [failed] = await services.library.recent_prompts(uid, limit=5)
    assert 'nanobanana-pro' in [alt['id'] for alt in job_of(user, failed.id)['alternatives']]  # its Try button
    for crafted in ('nanobanana-2', ['nanobanana-pro'], {'id': 'nanobanana-pro'}, None):  # not offered, not an id
        press(user, failed.id, 'try', crafted)  # the server refuses these: the count below has no room for them
    press(user, failed.id, 'try', 'nanobanana-pro')
    await wait_for_cards(user, 2)

    async def retried():  # type: ignore[no-untyped-def]
        rows = await services.library.recent_prompts(uid, limit=5)
        return rows[0] if len(rows) == 2 and rows[0].status == 'COMPLETED' else None
    again = await eventually(retried)
    # What Pro has is kept (count, resolution, ratio); what it lacks (grounding, format) is dropped.
    assert (again.model, again.resolution, again.prompt, again.num_images, again.aspect_ratio, again.google_search,
            again.output_format) == ('nanobanana-pro', '2K', 'a harbour in the fog', 2, '16:9', False, None)
    assert len(await services.library.recent_prompts(uid, limit=5)) == 2  # the crafted events queued nothing
