"""The dashboard as a person sees it: empty states, numbers, recent images, and live updates with no reload."""

from __future__ import annotations

from nicegui.testing import User

from nanogen.generation.requests import validate_request
from tests.ui.helpers import elements, eventually, should_not_see, should_see, sign_in
from tests.ui.studio import app_services, emit, text_of, user_id, wait_finished


async def test_empty_dashboard_says_what_to_do(user: User) -> None:
    await sign_in(user)
    await should_see(user, 'Welcome, Ada')
    await should_see(user, 'No images yet: your first one is a prompt away.')
    await should_see(user, 'Nothing is running right now.')
    assert text_of(user, 'stat-images') == '0'
    assert text_of(user, 'stat-success') == '–'
    assert text_of(user, 'stat-spend-month') == '$0.00'
    user.find(marker='dashboard-generate').click()
    await should_see(user, 'Ctrl+Enter generates')


async def test_open_dashboard_updates_live_when_a_generation_finishes(user: User) -> None:
    await sign_in(user)
    await should_see(user, 'No images yet')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    services.demo.config.latency_s = 1.5  # long enough to see it in flight
    prompt = await services.generation.create(uid, validate_request(prompt='a live lighthouse', size=512))
    await eventually(lambda: elements(user, marker=f'in-flight-{prompt.id}'))
    assert text_of(user, 'stat-in-flight') == '1'
    await eventually(lambda: elements(user, marker='recent-image'))  # no reload: the event rebuilt the section
    await eventually(lambda: text_of(user, 'stat-images') == '1')
    assert text_of(user, 'stat-in-flight') == '0'
    assert text_of(user, 'stat-success') == '100%'
    assert text_of(user, 'stat-spend-total') == '$0.0050'
    await should_see(user, 'a live lighthouse')
    await should_see(user, 'Nothing is running right now.')


async def test_cancel_from_the_dashboard(user: User) -> None:
    await sign_in(user)
    services = app_services()
    services.demo.config.latency_s = 30
    uid = await user_id(services, 'ada@example.com')
    prompt = await services.generation.create(uid, validate_request(prompt='a slow mountain'))
    await eventually(lambda: elements(user, marker=f'in-flight-{prompt.id}'))
    await should_see(user, 'a slow mountain')
    emit(user, f'in-flight-{prompt.id}', 'cancel')  # the row's Cancel button (pages/_in_flight_row.js)
    await should_see(user, 'Generation cancelled.')
    await eventually(lambda: not elements(user, marker=f'in-flight-{prompt.id}'))
    assert (await services.library.get_prompt(uid, prompt.id)).status == 'CANCELLED'


async def test_another_users_generations_never_show(user: User) -> None:
    await sign_in(user)
    services = app_services()
    bob = await user_id(services, 'bob@example.com')
    prompt = await services.generation.create(bob, validate_request(prompt="bob's secret sketch"))
    await wait_finished(services, bob, prompt.id)
    await user.open('/dashboard')
    await should_see(user, 'No images yet')
    await should_not_see(user, "bob's secret sketch")
    assert text_of(user, 'stat-images') == '0'
    assert text_of(user, 'stat-spend-total') == '$0.00'


async def test_a_batchs_reservation_shows_in_the_dashboards_and_analytics_spend(user: User) -> None:
    from nanogen.batches.inputs import from_lines
    from pages._format import money
    await sign_in(user)
    services = app_services()
    assert services.batches is not None
    services.demo.config.latency_s = 30  # nothing ends during the test: every row only reserves its estimate
    uid = await user_id(services, 'ada@example.com')
    batch = await services.batches.create(uid, from_lines('a fox\na hare\nan owl\na vole', max_rows=10))
    await services.batches.pause(uid, batch.id)
    reserved = money(batch.estimated_cost)
    await user.open('/dashboard')
    await eventually(lambda: text_of(user, 'stat-spend-month') == reserved)
    assert text_of(user, 'stat-spend-total') == reserved  # never less than this month's
    await user.open('/analytics')
    await eventually(lambda: text_of(user, 'an-spend') == reserved)
    assert [r['spend'] for r in user.find(marker='size-table').elements.pop().rows] == [reserved]
