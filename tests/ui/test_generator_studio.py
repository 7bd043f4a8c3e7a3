"""The generator's studio features: presets, several jobs at once, cancel, failures and retry, live messages."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from nanogen.generation.requests import validate_request
from tests.ui.helpers import WAIT_S, elements, eventually, should_not_see, should_see, sign_in
from tests.ui.studio import (
    app_services,
    job_card,
    job_cards,
    job_of,
    press,
    result_images,
    user_id,
    wait_finished,
    wait_for_cards,
)


def cancellable(user: User) -> list:
    """The cards showing a Cancel button."""
    return [c for c in job_cards(user) if c.props['job'].get('action') == 'cancel']


async def the_only_prompt(uid: int):
    """The one prompt the page queued (the click runs as a background task, so wait for it)."""
    (prompt,) = await eventually(lambda: app_services().library.recent_prompts(uid),
                                 message='the page never queued a prompt')
    return prompt


async def test_empty_generator_explains_itself(user: User) -> None:
    await sign_in(user, then='/generator')
    await should_see(user, 'Your generations appear here, live. Write a prompt and press Generate.')
    assert not elements(user, marker='preset')  # no history yet: no preset chips


async def test_several_jobs_run_at_once_and_each_finishes_with_its_images(user: User) -> None:
    await sign_in(user, then='/generator')
    app_services().demo.config.latency_s = 1.0
    uid = await user_id(app_services(), 'ada@example.com')
    for n, text in enumerate(('a red kite over the sea', 'a green door in a wall'), start=1):
        user.find(marker='prompt').clear().type(text)
        user.find(marker='generate').click()
        await eventually(lambda n=n: len(cancellable(user)) == n)
    prompts = await app_services().library.recent_prompts(uid)
    assert len(prompts) == 2
    running = [p.id for p in prompts if job_of(user, p.id)['label'] in ('Pending', 'Processing')]
    assert len(running) == 2  # the second was queued while the first still ran
    await eventually(lambda: len(result_images(user)) == 2)
    assert {job_of(user, p.id)['label'] for p in prompts} == {'Completed'}
    await should_see(user, 'Download')
    await should_see(user, 'Open in gallery')


async def test_recent_prompts_are_one_click_presets(user: User) -> None:
    await sign_in(user)
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    await services.generation.create(uid, validate_request(prompt='a teapot shaped like a whale'))
    bob = await user_id(services, 'bob@example.com')
    await services.generation.create(bob, validate_request(prompt="bob's private prompt"))
    await user.open('/generator')
    chips = elements(user, marker='preset')
    assert [c.text for c in chips] == ['a teapot shaped like a …']  # shortened; never another user's prompts
    await should_not_see(user, "bob's private prompt")
    user.find(marker='preset').click()
    assert user.find(marker='prompt').elements.pop().value == 'a teapot shaped like a whale'


async def test_ctrl_enter_generates(user: User) -> None:
    await sign_in(user, then='/generator')
    user.find(marker='prompt').type('a keyboard shortcut made of light').trigger('keydown.ctrl.enter')
    await wait_for_cards(user)


async def test_cancel_a_running_job(user: User) -> None:
    await sign_in(user, then='/generator')
    app_services().demo.config.latency_s = 30
    user.find(marker='prompt').type('a painting that takes forever')
    user.find(marker='generate').click()
    uid = await user_id(app_services(), 'ada@example.com')
    await eventually(lambda: bool(cancellable(user)))
    prompt = await the_only_prompt(uid)

    async def running() -> bool:  # submitted: the cancel of a running job (a PENDING one says something else)
        return (await app_services().library.get_prompt(uid, prompt.id)).status == 'PROCESSING'
    await eventually(running)
    press(user, prompt.id, 'cancel')
    await should_see(user, 'Generation cancelled.')
    await eventually(lambda: job_of(user, prompt.id)['label'] == 'Cancelled')
    assert job_of(user, prompt.id)['action'] == 'retry'


async def test_a_refused_prompt_says_why_and_what_to_do_and_retry_works(user: User) -> None:
    await sign_in(user, then='/generator')
    user.find(marker='prompt').type('something forbidden here')  # the demo refuses it as a content-policy breach
    user.find(marker='generate').click()
    uid = await user_id(app_services(), 'ada@example.com')
    prompt = await the_only_prompt(uid)
    await eventually(lambda: job_of(user, prompt.id).get('error'))
    assert 'content policy' in job_of(user, prompt.id)['error']
    await should_see(user, 'Change the prompt or settings if the message asks for it, then press Retry.')
    app_services().demo.config.content_policy_words = ()
    assert job_of(user, prompt.id)['action'] == 'retry'
    press(user, prompt.id, 'retry')
    await should_see(user, 'Queued again with the same settings.')
    await eventually(lambda: len(result_images(user)) == 1)


async def test_provider_rate_limit_messages_are_shown_live(user: User) -> None:
    await sign_in(user, then='/generator')
    services = app_services()
    services.client._backoff_base = 0.01  # the client's own retries, sped up for the test
    services.demo.config.rate_limit_rate = 1.0
    user.find(marker='prompt').type('a crowded waiting room')
    user.find(marker='generate').click()
    uid = await user_id(services, 'ada@example.com')
    prompt = await the_only_prompt(uid)

    def says_rate_limited() -> bool:
        return job_of(user, prompt.id).get('message', '').startswith('The provider is rate-limiting us. Retrying in')
    await eventually(says_rate_limited, timeout=2 * WAIT_S)  # the provider's rate limit and our backoff both run first
    services.demo.config.rate_limit_rate = 0.0
    await eventually(lambda: len(result_images(user)) == 1, timeout=2 * WAIT_S)


async def test_a_job_queued_elsewhere_appears_on_an_open_generator(user: User) -> None:
    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    prompt = await services.generation.create(uid, validate_request(prompt='queued from another tab'))
    await eventually(lambda: job_card(user, prompt.id))
    await wait_finished(services, uid, prompt.id)
    await eventually(lambda: len(result_images(user)) == 1)


async def test_a_live_card_changes_in_place_as_its_status_and_message_change(user: User) -> None:
    """Issue 18: an event changes the card's one `job` prop (badge, live line); nothing is built again, and the
    card is the same element (a hundred tabs each rebuilt its buttons and results on every message)."""
    await sign_in(user, then='/generator')
    services = app_services()
    services.demo.config.latency_s = 30
    uid = await user_id(services, 'ada@example.com')
    prompt = await services.generation.create(uid, validate_request(prompt='a card that stays put'))
    await eventually(lambda: job_of(user, prompt.id).get('action') == 'cancel')
    card = job_card(user, prompt.id)
    assert card is not None
    assert not list(card.descendants())  # one element: nothing built inside it
    await eventually(lambda: job_of(user, prompt.id)['label'] == 'Processing')
    row = (await services.library.prompts_by_id(uid, [prompt.id]))[prompt.id]
    services.generation._publish(row, 'Still drawing "quotes" <b>and</b> \\ backslashes')  # a new live line
    await eventually(lambda: job_of(user, prompt.id)['message'] == 'Still drawing "quotes" <b>and</b> \\ backslashes')
    assert job_card(user, prompt.id) is card and job_of(user, prompt.id)['action'] == 'cancel'  # the same element
    assert not list(card.descendants())  # and nothing built on a new message
    await services.generation.cancel(uid, prompt.id)
    await eventually(lambda: job_of(user, prompt.id)['action'] == 'retry')
    assert job_card(user, prompt.id) is card
    await wait_finished(services, uid, int(prompt.id))


@pytest.fixture
def many_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before `user` starts the app that reads it: more than MAX_CARDS generations may run at once."""
    monkeypatch.setenv('NANOGEN_MAX_CONCURRENT_PER_USER', '30')


async def test_a_tab_keeps_its_newest_cards_and_points_to_history_for_the_rest(many_at_once: None, user: User) -> None:
    """Issue 18: a card costs ~60 KB per tab, so a tab keeps MAX_CARDS; finished ones leave first, and it says
    where the others are."""
    from pages.generator import MAX_CARDS

    services = app_services()
    services.demo.config.latency_s = 30
    await sign_in(user, then='/generator')
    uid = await user_id(services, 'ada@example.com')
    running = [await services.generation.create(uid, validate_request(prompt=f'running {n}')) for n in range(2)]
    await should_not_see(user, 'every generation is in History')
    more = [await services.generation.create(uid, validate_request(prompt=f'queued {n}'))
            for n in range(MAX_CARDS)]
    await eventually(lambda: job_card(user, more[-1].id))
    await should_see(user, 'every generation is in History')
    shown = [p for p in (*running, *more) if job_card(user, p.id)]
    assert shown == [*running, *more][-MAX_CARDS:]  # the newest, the oldest two gone
    await user.open('/generator')  # a reload shows the same newest ones, and the same pointer
    await should_see(user, 'every generation is in History')
    assert [p for p in (*running, *more) if job_card(user, p.id)] == shown
    for p in (*running, *more):
        await services.generation.cancel(uid, p.id)
