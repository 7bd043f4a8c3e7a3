"""The generator's studio features: presets, several jobs at once, cancel, failures and retry, live messages."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from nanogen.generation.requests import validate_request
from tests.ui.helpers import WAIT_S, elements, eventually, should_not_see, should_see, sign_in
from tests.ui.studio import app_services, text_of, user_id, wait_finished, wait_for_cards


def result_images(user: User) -> list:
    return elements(user, marker='result-image')


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
        await eventually(lambda n=n: len(elements(user, kind=ui.button, content='Cancel')) == n)
    prompts = await app_services().library.recent_prompts(uid)
    assert len(prompts) == 2
    running = [p.id for p in prompts if text_of(user, f'status-{p.id}') in ('Pending', 'Processing')]
    assert len(running) == 2  # the second was queued while the first still ran
    await eventually(lambda: len(result_images(user)) == 2)
    assert {text_of(user, f'status-{p.id}') for p in prompts} == {'Completed'}
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
    await eventually(lambda: bool(elements(user, kind=ui.button, content='Cancel')))
    prompt = await the_only_prompt(uid)

    async def running() -> bool:  # submitted: the cancel of a running job (a PENDING one says something else)
        return (await app_services().library.get_prompt(uid, prompt.id)).status == 'PROCESSING'
    await eventually(running)
    user.find(marker=f'cancel-{prompt.id}').click()
    await should_see(user, 'Generation cancelled.')
    await eventually(lambda: text_of(user, f'status-{prompt.id}') == 'Cancelled')
    assert elements(user, marker=f'retry-{prompt.id}')


async def test_a_refused_prompt_says_why_and_what_to_do_and_retry_works(user: User) -> None:
    await sign_in(user, then='/generator')
    user.find(marker='prompt').type('something forbidden here')  # the demo refuses it as a content-policy breach
    user.find(marker='generate').click()
    uid = await user_id(app_services(), 'ada@example.com')
    prompt = await the_only_prompt(uid)
    await eventually(lambda: elements(user, marker=f'error-{prompt.id}'))
    assert 'content policy' in text_of(user, f'error-{prompt.id}')
    await should_see(user, 'Change the prompt or settings if the message asks for it, then press Retry.')
    app_services().demo.config.content_policy_words = ()
    user.find(marker=f'retry-{prompt.id}').click()
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
        shown = elements(user, marker=f'message-{prompt.id}')
        return bool(shown) and shown[0].text.startswith('The provider is rate-limiting us. Retrying in')
    await eventually(says_rate_limited, timeout=2 * WAIT_S)  # the provider's rate limit and our backoff both run first
    services.demo.config.rate_limit_rate = 0.0
    await eventually(lambda: len(result_images(user)) == 1, timeout=2 * WAIT_S)


async def test_a_job_queued_elsewhere_appears_on_an_open_generator(user: User) -> None:
    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    prompt = await services.generation.create(uid, validate_request(prompt='queued from another tab'))
    await eventually(lambda: elements(user, marker=f'job-{prompt.id}'))
    await wait_finished(services, uid, prompt.id)
    await eventually(lambda: len(result_images(user)) == 1)


async def test_a_live_card_changes_in_place_as_its_status_and_message_change(user: User) -> None:
    """Issue 18: an event sets the badge and the live line's text; the Cancel button and the results part are built
    again only when what they show changes (a hundred tabs each rebuilt them on every message)."""
    await sign_in(user, then='/generator')
    services = app_services()
    services.demo.config.latency_s = 30
    uid = await user_id(services, 'ada@example.com')
    prompt = await services.generation.create(uid, validate_request(prompt='a card that stays put'))
    await eventually(lambda: elements(user, marker=f'cancel-{prompt.id}'))
    (cancel,) = elements(user, marker=f'cancel-{prompt.id}')
    (line,) = elements(user, marker=f'message-{prompt.id}')
    card_elements = {e.id for e in elements(user, marker=f'job-{prompt.id}')[0].descendants()}
    await eventually(lambda: elements(user, marker=f'status-{prompt.id}')[0].text == 'Processing')
    row = (await services.library.prompts_by_id(uid, [prompt.id]))[prompt.id]
    services.generation._publish(row, 'Still drawing "quotes" <b>and</b> \\ backslashes')  # a new live line
    await eventually(lambda: line.text == 'Still drawing "quotes" <b>and</b> \\ backslashes')
    assert elements(user, marker=f'cancel-{prompt.id}') == [cancel]  # the same button, not a new one
    assert {e.id for e in elements(user, marker=f'job-{prompt.id}')[0].descendants()} == card_elements
    await services.generation.cancel(uid, prompt.id)
    await eventually(lambda: elements(user, marker=f'retry-{prompt.id}'))
    assert not elements(user, marker=f'cancel-{prompt.id}')
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
    await eventually(lambda: elements(user, marker=f'job-{more[-1].id}'))
    await should_see(user, 'every generation is in History')
    shown = [p for p in (*running, *more) if elements(user, marker=f'job-{p.id}')]
    assert shown == [*running, *more][-MAX_CARDS:]  # the newest, the oldest two gone
    await user.open('/generator')  # a reload shows the same newest ones, and the same pointer
    await should_see(user, 'every generation is in History')
    assert [p for p in (*running, *more) if elements(user, marker=f'job-{p.id}')] == shown
    for p in (*running, *more):
        await services.generation.cancel(uid, p.id)
