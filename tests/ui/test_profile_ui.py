"""The profile page as a person uses it: who they are, usage, API tokens shown once, and signing out everywhere."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from nicegui import app, ui
from nicegui.testing import User

from nanogen.bootstrap import Services
from nanogen.models import Prompt, utcnow
from tests.ui.helpers import elements, should_not_see, should_see, sign_in
from tests.ui.studio import app_services


def running_services() -> Services:
    """The services app.py built for this test (the page modules are fresh per test)."""
    return app_services()


async def bearer_status(token: str) -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        response = await client.get('/api/v1/images/999999', headers={'Authorization': f'Bearer {token}'})
    return response.status_code


async def test_profile_shows_who_you_are_and_this_months_usage(user: User) -> None:
    await sign_in(user, name='Ada', email='ada@example.com', then='/profile')
    await should_see(user, 'ada@example.com')
    await should_see(user, marker='usage-count')
    assert user.find(marker='usage-count').elements.pop().text == '0'
    services = running_services()
    me = await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')

    def add(s: object) -> None:
        for cost, status in ((Decimal('0.0125'), 'COMPLETED'), (Decimal('0.045'), 'COMPLETED'), (Decimal(0), 'FAILED')):
            s.add(Prompt(user_id=me.id, prompt='a fox', cost=cost, status=status))  # type: ignore[attr-defined]
        s.add(Prompt(user_id=me.id, prompt='last month', cost=Decimal('9'), status='COMPLETED',  # type: ignore
                     created_at=utcnow().replace(day=1, hour=0, minute=0) - timedelta(days=1)))
        s.commit()  # type: ignore[attr-defined]
    await services.db.write(add)
    await user.open('/profile')
    assert user.find(marker='usage-count').elements.pop().text == '3'
    assert user.find(marker='usage-spend').elements.pop().text == '$0.0575'
    await should_see(user, 'generations (2 completed)')


@pytest.fixture
def budget_of_five_cents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_MONTHLY_BUDGET', '0.05')  # before `user` starts the app that reads it


async def test_profile_and_budget_widget_agree_while_a_job_runs(budget_of_five_cents: None, user: User) -> None:
    """Issue 13, one month-spend function: the profile's "spent" and the budget widget's "left" come from one
    definition, so while a job runs both count its estimate (the profile used to count ended prompts only)."""
    from pages.budget_widgets import budget_left_text
    await sign_in(user, name='Ada', email='ada@example.com', then='/profile')
    services = running_services()
    me = await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')

    def add(s: object) -> None:
        s.add(Prompt(user_id=me.id, prompt='done', estimated_cost=Decimal('0.0125'),  # type: ignore[attr-defined]
                     cost=Decimal('0.0125'), status='COMPLETED'))
        # Running, with no provider task saved yet: a check step of this process finds nothing to ask about.
        s.add(Prompt(user_id=me.id, prompt='running', estimated_cost=Decimal('0.02'),  # type: ignore[attr-defined]
                     cost=Decimal(0), status='PROCESSING', submitted_at=utcnow()))
        s.commit()  # type: ignore[attr-defined]
    await services.db.write(add)
    await user.open('/profile')
    spent = user.find(marker='usage-spend').elements.pop().text
    left = await budget_left_text(SimpleNamespace(services=services, user=me))  # type: ignore[arg-type]
    assert spent == '$0.0325'
    assert left == 'Budget left this month: $0.0175 of $0.0500.'
    assert Decimal(spent.lstrip('$')) + Decimal(left.split('$')[1].split(' ')[0]) == Decimal('0.05')


async def test_bad_token_requests_get_a_message_and_nothing_is_created(user: User) -> None:
    await sign_in(user, then='/profile')
    await should_see(user, 'No tokens yet.')
    user.find(marker='create-token').click()
    await should_see(user, 'Give the token a name, like "laptop script".')
    user.find(marker='token-name').type('ci')
    user.find(marker='token-days').type('zero')
    user.find(marker='create-token').click()
    await should_see(user, 'Expiry must be between 1 and 3650 days, or empty for none.')
    user.find(marker='token-days').clear().type('0')
    user.find(marker='create-token').click()
    await should_see(user, 'Expiry must be between 1 and 3650 days, or empty for none.')
    await should_see(user, 'No tokens yet.')


async def test_create_a_token_see_it_once_use_it_and_revoke_it(user: User) -> None:
    await sign_in(user, then='/profile')
    user.find(marker='token-name').type('laptop script')
    user.find(marker='token-days').type('30')
    user.find(marker='create-token').click()
    await should_see(user, 'Copy it now: it will not be shown again.')
    secret = user.find(marker='new-token').elements.pop().value
    assert secret.startswith('ngk_')
    await should_see(user, marker='copy-token')
    user.find(marker='close-token').click()
    await should_not_see(user, 'Copy it now')
    await should_see(user, 'laptop script')
    await should_see(user, 'Expires ')
    await should_see(user, secret[:12] + '…')
    assert await bearer_status(secret) == 404  # signed in by the token: the image simply does not exist

    await user.open('/profile')  # a reload never shows the token again
    await should_not_see(user, secret)
    await should_see(user, 'Last used:')
    revoke = [e for e in elements(user, kind=ui.button) if any(m.startswith('revoke-') for m in e._markers)]
    assert len(revoke) == 1
    user.find(marker=next(m for m in revoke[0]._markers if m.startswith('revoke-'))).click()
    await should_see(user, 'No tokens yet.')
    assert await bearer_status(secret) == 401


async def test_sign_out_everywhere_ends_this_and_other_sessions(user: User, create_user) -> None:
    other = create_user()
    await sign_in(user, then='/profile')
    await sign_in(other, then='/dashboard')
    await should_see(other, 'Welcome, Ada')
    user.find(marker='sign-out-everywhere').click()
    await should_see(user, 'Your team\'s image studio')
    await user.open('/profile')
    await should_see(user, 'Sign in to nanogen')
    await other.open('/dashboard')
    await should_see(other, 'Sign in to nanogen')
    await sign_in(user, then='/profile')  # signing in again works
    await should_see(user, marker='sign-out')


async def test_sign_out_ends_the_session(user: User) -> None:
    await sign_in(user, then='/profile')
    user.find(marker='sign-out').click()
    await should_see(user, 'Your team\'s image studio')
    await user.open('/profile')
    await should_see(user, 'Sign in to nanogen')
