"""Analytics as a person sees it: empty state, numbers and charts for a range, bad ranges, one user's data only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from nicegui import ui
from nicegui.testing import User

from nanogen.bootstrap import Services
from nanogen.generation.requests import validate_request
from nanogen.models import Prompt, utcnow
from tests.ui.helpers import elements, eventually, should_see, sign_in
from tests.ui.studio import app_services, text_of, user_id


async def seed(services: Services, uid: int, *, size: int, n: int = 1, status: str = 'COMPLETED',
               cost: str = '0.0125', days_ago: int = 0, duration_ms: int = 2000) -> None:
    def work(s) -> None:
        at = utcnow() - timedelta(days=days_ago)
        s.add(Prompt(user_id=uid, prompt='seeded', status=status, image_size=size, num_images=n, cost=Decimal(cost),
                     duration_ms=duration_ms, created_at=at, updated_at=at))
        s.commit()
    await services.db.write(work)


def chart(user: User, marker: str) -> ui.echart:
    (element,) = user.find(marker=marker).elements
    assert isinstance(element, ui.echart)
    return element


async def test_empty_analytics_says_what_to_do(user: User) -> None:
    await sign_in(user, then='/analytics')
    await should_see(user, 'No generations in this range. Pick a longer range, or generate something.')
    assert text_of(user, 'an-spend') == '$0.00' and text_of(user, 'an-success') == '–'


async def test_numbers_and_charts_for_the_range_and_only_mine(user: User) -> None:
    await sign_in(user)
    services = app_services()
    ada, bob = await user_id(services, 'ada@example.com'), await user_id(services, 'bob@example.com')
    await seed(services, ada, size=512, n=2, cost='0.01', duration_ms=1000)
    await seed(services, ada, size=1536, cost='0.045', days_ago=3, duration_ms=3000)
    await seed(services, ada, size=512, status='FAILED', cost='0')
    await seed(services, ada, size=1024, days_ago=100)  # outside the default 30 days
    await seed(services, bob, size=768, n=4, cost='5')
    await user.open('/analytics')
    assert text_of(user, 'an-spend') == '$0.0550'
    assert text_of(user, 'an-images') == '3'
    assert text_of(user, 'an-success') == '67%'
    assert text_of(user, 'an-duration') == '2.0 s'
    over_time = chart(user, 'chart-over-time').options
    assert len(over_time['xAxis']['data']) == 30
    assert sum(over_time['series'][1]['data']) == 3 and over_time['series'][1]['data'][-1] == 2
    assert chart(user, 'chart-by-size').options['xAxis']['data'] == ['512px', '1536px']  # no 768: bob's
    user.find(marker='range-365').click()
    await eventually(lambda: text_of(user, 'an-images') == '4')
    assert chart(user, 'chart-by-size').options['xAxis']['data'] == ['512px', '1024px', '1536px']


async def test_a_bad_range_gets_a_message_and_keeps_the_charts(user: User) -> None:
    await sign_in(user)
    services = app_services()
    await seed(services, await user_id(services, 'ada@example.com'), size=512)
    await user.open('/analytics')
    today = utcnow().date()
    user.find(marker='range-from').elements.pop().value = str(today + timedelta(days=5))
    await should_see(user, 'The start date must not be after the end date.')
    assert elements(user, marker='chart-over-time')
    user.find(marker='range-from').elements.pop().value = str(today - timedelta(days=3000))
    await should_see(user, 'Pick a range of at most 731 days.')
    user.find(marker='range-from').elements.pop().value = ''
    await should_see(user, 'Pick both dates (YYYY-MM-DD).')


async def test_analytics_update_live_when_a_generation_finishes(user: User) -> None:
    await sign_in(user, then='/analytics')
    await should_see(user, 'No generations in this range')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    await services.generation.create(uid, validate_request(prompt='a chart-worthy sunset', size=768))
    await eventually(lambda: text_of(user, 'an-images') == '1')
    await eventually(lambda: elements(user, marker='chart-by-size'))
    assert text_of(user, 'an-spend') == '$0.0100'
