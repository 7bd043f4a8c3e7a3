"""Generator defects a new user hit (issue 12): double submits, over-long prompts, the submit toast, card costs."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.helpers import eventually, should_not_see, should_see, sign_in
from tests.ui.studio import (
    app_services,
    job_cards,
    job_of,
    press,
    submit_on_generator,
    text_of,
    user_id,
    wait_finished,
    wait_for_cards,
)


async def test_double_click_and_ctrl_enter_queue_one_generation(user: User) -> None:
    """Issue 12 finding 7: a double click (or click + Ctrl+Enter) started and billed two generations."""
    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    user.find(marker='prompt').type('a double-clicked lighthouse')
    button = user.find(marker='generate')
    button.click()
    button.click()  # both clicks land before the first handler has recorded the prompt
    user.find(marker='prompt').trigger('keydown.ctrl.enter')
    await wait_for_cards(user)
    assert len(await services.library.recent_prompts(uid)) == 1
    (element,) = button.elements
    await eventually(lambda: element.enabled)  # busy only until the prompt is recorded
    button.click()
    await wait_for_cards(user, 2)
    # The extra click and Ctrl+Enter ran long before this deliberate second click: had either queued a prompt, it
    # would be here too.
    assert len(await services.library.recent_prompts(uid)) == 2
    assert len(job_cards(user)) == 2


async def test_an_over_long_prompt_is_refused_not_cut(user: User) -> None:
    """Issue 12 finding 8: a pasted 5,000-character prompt was silently cut to 2,000 (maxlength) and generated."""
    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    (area,) = user.find(marker='prompt').elements
    assert 'maxlength' not in area.props  # the browser would cut a paste without a word
    area.set_value('y' * 5000)  # a paste
    assert text_of(user, 'prompt-counter') == '5000 / 2000'
    await should_see(user, 'The prompt is too long: 5000 characters, the limit is 2000.')
    (button,) = user.find(marker='generate').elements
    assert not button.enabled
    user.find(marker='prompt').trigger('keydown.ctrl.enter')  # refused: the one prompt unpacked below is the proof
    assert await services.library.recent_prompts(uid) == []
    area.set_value('y' * 2000)  # now it fits
    assert text_of(user, 'prompt-counter') == '2000 / 2000'
    await should_not_see(user, 'The prompt is too long')
    assert button.enabled
    user.find(marker='generate').click()
    await wait_for_cards(user)
    (prompt,) = await services.library.recent_prompts(uid)
    assert len(prompt.prompt) == 2000


async def test_a_submit_shows_its_card_without_a_toast(user: User) -> None:
    """Issue 12 finding 14: a toast on every submit is noise; the card appearing is the feedback."""
    await sign_in(user, then='/generator')
    user.find(marker='prompt').type('a quiet submit')
    user.find(marker='generate').click()
    await wait_for_cards(user)
    uid = await user_id(app_services(), 'ada@example.com')
    (prompt,) = await app_services().library.recent_prompts(uid)
    await wait_finished(app_services(), uid, prompt.id)
    assert user.notify.messages == []


async def test_a_failed_unbilled_card_shows_what_was_billed(user: User) -> None:
    """Issue 12 finding 10: a failed, unbilled generation's card showed the estimate ($0.0100), not the cost ($0)."""
    # latency_s: long enough to see the running card
    services, uid, prompt = await submit_on_generator(user, 'a painting the provider cannot make', fail_rate=1.0,
                                                      latency_s=1.0)
    assert job_of(user, prompt.id)['cost'].endswith('est. $0.0125')  # while it runs: the estimate, said so
    assert await wait_finished(services, uid, prompt.id) == 'FAILED'
    await eventually(lambda: job_of(user, prompt.id)['label'] == 'Failed')
    assert job_of(user, prompt.id)['cost'].endswith(' · $0.00')
    await user.open('/generator')  # rebuilt from the database: the same
    assert job_of(user, prompt.id)['cost'].endswith(' · $0.00')
    assert 'est.' not in job_of(user, prompt.id)['cost']
    assert job_of(user, prompt.id)['label'] == 'Failed'  # the badge


async def test_a_provider_side_failure_does_not_blame_the_prompt(user: User) -> None:
    """Issue 12 finding 13: a provider-side failure (here its 501) told the user to "Rephrase the prompt"."""
    services, uid, prompt = await submit_on_generator(user, 'a perfectly fine prompt', fail_rate=1.0)
    await wait_finished(services, uid, prompt.id)
    await eventually(lambda: job_of(user, prompt.id).get('error'))
    message = job_of(user, prompt.id)['error']
    assert 'Rephrase' not in message
    assert "provider's side, not your prompt" in message
    assert 'not charged' in message and 'Retry' in message


async def test_cancel_after_submission_says_it_is_still_billed(user: User) -> None:
    """Issue 12 finding 13: "Generation cancelled." did not say the submitted work is billed all the same."""
    _services, _uid, prompt = await submit_on_generator(user, 'a painting that takes forever', latency_s=30)
    await eventually(lambda: job_of(user, prompt.id)['label'] == 'Processing')  # submitted to the provider
    press(user, prompt.id, 'cancel')
    await should_see(user, 'Generation cancelled. The provider had already started it, so it is still billed '
                          '($0.0125).')
    await eventually(lambda: job_of(user, prompt.id)['cost'].endswith(' · $0.0125'))
