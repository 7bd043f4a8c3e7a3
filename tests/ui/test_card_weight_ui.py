"""Issue 18: what a generator tab's job cards weigh in NiceGUI elements, nearly the whole heap a full garbage
collection walks (docs/benchmarks.md, "The garbage collector: why level 200 dropped tabs")."""

from __future__ import annotations

from nicegui.testing import User

from nanogen.generation.requests import validate_request
from tests.ui.helpers import elements, eventually, should_see, sign_in
from tests.ui.studio import app_services, job_cards, result_images, user_id, wait_finished

# Elements a finished card (one image) may add to a tab: it is one custom element now; as NiceGUI rows, labels and
# buttons it was 20 (a 200-tab process held ~66,000 elements, ~36 objects each).
PER_CARD = 2


async def test_a_tab_of_finished_cards_holds_a_couple_of_elements_per_card(user: User) -> None:
    from pages.generator import MAX_CARDS

    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    prompts = [await services.generation.create(uid, validate_request(prompt=f'weighed {n}')) for n in range(MAX_CARDS)]
    for prompt in prompts:
        assert await wait_finished(services, uid, int(prompt.id)) == 'COMPLETED'
    await user.open('/generator')  # built from the database: every card finished, with its image
    assert len(job_cards(user)) == MAX_CARDS
    # Each card's own elements (the page around them also grows, e.g. a preset chip per recent prompt).
    per_card = sum(len(list(card.descendants(include_self=True))) for card in job_cards(user)) / MAX_CARDS
    assert per_card <= PER_CARD, f'{per_card:g} elements per finished card (at most {PER_CARD})'
    assert len(result_images(user)) == MAX_CARDS  # and they do show their results


async def test_the_dashboards_running_rows_are_one_element_each(user: User) -> None:
    from pages.dashboard import IN_FLIGHT

    await sign_in(user)
    services = app_services()
    services.demo.config.latency_s = 60  # they stay running while the page is weighed
    uid = await user_id(services, 'ada@example.com')
    for n in range(5):
        await services.generation.create(uid, validate_request(prompt=f'running <b>{n}</b>'))
    await user.open('/dashboard')
    assert user.client is not None
    rows = [e for e in user.client.elements.values() if any(m.startswith('in-flight-') for m in e._markers)]
    assert len(rows) == 5 <= IN_FLIGHT
    per_row = sum(len(list(row.descendants(include_self=True))) for row in rows) / len(rows)
    assert per_row == 1, f'{per_row:g} elements per running row (a custom element is 1; NiceGUI rows were 9)'
    await should_see(user, 'running <b>3</b>')  # the prompt as typed, shown as text


async def test_the_batch_form_is_built_when_its_tab_first_opens(user: User) -> None:
    await sign_in(user, then='/generator')
    assert not elements(user, marker='batch-lines')  # most tabs never open it: the server holds none of it
    user.find(marker='generator-tab-batch').click()
    await eventually(lambda: elements(user, marker='batch-lines'))
    user.find(marker='generator-tab-single').click()
    user.find(marker='generator-tab-batch').click()
    assert len(elements(user, marker='batch-lines')) == 1  # built once, not again on each opening
