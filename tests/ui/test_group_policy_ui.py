"""What a person sees of group policies (issue 16): a model/resolution allow-list and a group budget refuse with a
clear message on the generator, and nothing is queued."""

from __future__ import annotations

from decimal import Decimal

from nicegui.testing import User

from tests.support.gallery import svc
from tests.support.library import promote_admin
from tests.ui.helpers import should_see, sign_in
from tests.ui.studio import user_id
from tests.ui.test_generator_models import one


async def ada_in_a_group(**policy: object) -> int:
    services = svc()
    ada = await user_id(services, 'ada@example.com')
    root = await user_id(services, 'root@example.com')

    await promote_admin(services, root)
    group = await services.groups.create(root, 'Marketing')
    await services.groups.add_member(root, group.id, ada)
    await services.groups.set_policy(root, group.id, **policy)  # type: ignore[arg-type]
    return ada


async def test_an_allow_list_refuses_on_the_generator_with_a_clear_message(user: User) -> None:
    await sign_in(user, then='/generator')
    ada = await ada_in_a_group(allowed_resolutions=['512'])
    user.find(marker='prompt').type('a poster too large for marketing')
    user.find(marker='generate').click()
    await should_see(user, 'Your group does not allow nanobanana at 1K: choose another model or size, or ask an '
                           'admin.')
    assert await svc().library.recent_prompts(ada) == []


async def test_a_model_off_the_allow_list_refuses_on_the_generator_with_a_clear_message(user: User) -> None:
    await sign_in(user, then='/generator')
    ada = await ada_in_a_group(allowed_models=['nanobanana'])
    one(user, 'model').value = 'nanobanana-pro'
    user.find(marker='prompt').type('a poster in the pro model')
    user.find(marker='generate').click()
    await should_see(user, 'Your group does not allow the model Nano Banana Pro (nanobanana-pro): choose Nano Banana '
                           '(nanobanana), or ask an admin.')
    assert await svc().library.recent_prompts(ada) == []


async def test_a_spent_group_budget_refuses_on_the_generator_with_a_clear_message(user: User) -> None:
    await sign_in(user, then='/generator')
    ada = await ada_in_a_group(monthly_budget=Decimal('0.01'))
    user.find(marker='prompt').type('a lighthouse at dusk')
    user.find(marker='generate').click()
    await should_see(user, "The Marketing group's monthly budget of $0.0100 is spent ($0.0100 left; this costs "
                           '$0.0125). Ask an admin to raise it.')
    assert await svc().library.recent_prompts(ada) == []


async def test_the_budget_left_shows_the_group_budget_when_it_is_the_smallest(user: User) -> None:
    """The generator's "budget left" must not promise money a group budget would refuse."""
    await sign_in(user, then='/dashboard')
    await ada_in_a_group(monthly_budget=Decimal('0.05'))
    await user.open('/generator')
    await should_see(user, 'Marketing group budget left this month: $0.0500.')
