"""What a person sees of budgets: what is left before they generate, and a clear message once it is spent."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from nicegui.testing import User

from tests.ui.helpers import should_see, sign_in
from tests.ui.studio import app_services, wait_for_cards


def services() -> Any:
    return app_services()  # the services app.py built for this test


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_MONTHLY_BUDGET', '0.02')


async def test_spent_budget_gets_a_clear_message_on_the_generator_and_nothing_is_queued(small_budget: None,
                                                                                      user: User) -> None:
    from pages.budget_widgets import budget_left_text
    await sign_in(user, then='/generator')
    ctx = SimpleNamespace(services=services(), user=SimpleNamespace(id=1))
    assert await budget_left_text(ctx) == 'Budget left this month: $0.0200 of $0.0200.'  # type: ignore[arg-type]
    await should_see(user, 'Budget left this month: $0.0200 of $0.0200.')  # shown before generating
    user.find(marker='prompt').type('a lighthouse at dusk')
    user.find(marker='generate').click()
    await wait_for_cards(user)
    assert await budget_left_text(ctx) == 'Budget left this month: $0.0075 of $0.0200.'  # type: ignore[arg-type]
    await should_see(user, 'Budget left this month: $0.0075 of $0.0200.')  # follows the queued job
    user.find(marker='prompt').clear().type('a second lighthouse')
    user.find(marker='generate').click()
    await should_see(user, 'Your monthly budget of $0.0200 is spent ($0.0075 left; this costs $0.0125). '
                          'Ask an admin to raise it.')
    prompts = await services().library.recent_prompts(1)
    assert [p.prompt for p in prompts] == ['a lighthouse at dusk']


async def test_no_limit_says_so(user: User) -> None:
    from pages.budget_widgets import budget_left_text
    await sign_in(user)
    ctx = SimpleNamespace(services=services(), user=SimpleNamespace(id=1))
    assert await budget_left_text(ctx) == 'No monthly budget limit.'  # type: ignore[arg-type]


async def test_budget_label_follows_generations_live(small_budget: None, user: User) -> None:
    from nanogen.generation.requests import validate_request
    from pages.budget_widgets import budget_label
    from pages.frame import PageContext, guarded_page

    @guarded_page('/budget-widget-test', title='Budget widget')
    async def widget_page(ctx: PageContext) -> None:
        await budget_label(ctx)

    await sign_in(user, then='/budget-widget-test')
    await user.open('/budget-widget-test')
    await should_see(user, 'Budget left this month: $0.0200 of $0.0200.')
    await services().generation.create(1, validate_request(prompt='a kite over the dunes'))
    await should_see(user, 'Budget left this month: $0.0075 of $0.0200.')
