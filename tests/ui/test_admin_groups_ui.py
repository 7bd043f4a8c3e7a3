"""The admin console's Groups section (issue 16): create, rename and delete groups, members and roles, spend per
group, and the budget and allow-list set there refusing a generation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from nicegui.testing import User

from tests.support.gallery import make_images, svc
from tests.ui.helpers import should_see, sign_in
from tests.ui.studio import user_id


@pytest.fixture
def boss_is_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_ADMIN_EMAILS', 'boss@example.com')


async def test_admin_creates_a_group_adds_a_member_and_sees_its_spend(boss_is_admin: None, user: User) -> None:
    ada = await user_id(svc(), 'ada@example.com')
    await make_images(ada, 'a group expense', n=1)
    await sign_in(user, name='Boss', email='boss@example.com', then='/admin')
    await user.open('/admin')
    await should_see(user, 'No groups yet.')
    user.find(marker='group-name').type('Design')
    user.find(marker='create-group').click()
    await should_see(user, 'Group created.')
    (group,) = await svc().groups.spend_by_group(await user_id(svc(), 'boss@example.com'))
    await should_see(user, 'Design · 0 members · $0.00 this month')
    user.find(marker='member-group').elements.pop().value = group.id
    user.find(marker='member-email').type('ada@example.com')
    user.find(marker='member-role').elements.pop().value = 'editor'
    user.find(marker='add-member').click()
    await should_see(user, 'Member added.')
    await should_see(user, 'Design · 1 member · $0.0125 this month')
    (member,) = await svc().groups.members(await user_id(svc(), 'boss@example.com'), group.id)
    assert (member.email, member.role) == ('ada@example.com', 'editor')


async def save_limits(user: User, gid: int, budget: str, sizes: list[str]) -> None:
    """Fill and submit a group's limits with no await in between: the console re-renders on its own, so wait for
    the whole panel (its last button) first."""
    await should_see(user, marker=f'save-limits-{gid}')
    (budget_box,) = user.find(marker=f'group-budget-{gid}').elements  # one box: not a user row's budget-{id}
    (sizes_box,) = user.find(marker=f'sizes-{gid}').elements
    budget_box.value = budget
    sizes_box.value = sizes
    user.find(marker=f'save-limits-{gid}').click()


async def test_admin_renames_sets_roles_and_limits_and_they_refuse_a_generation(
        boss_is_admin: None, user: User, create_user: Callable[[], User]) -> None:
    """The limits set in the console are the ones the generator enforces (a size allow-list here)."""
    ada_tab = create_user()
    await sign_in(ada_tab, then='/generator')
    services = svc()
    ada = await user_id(services, 'ada@example.com')
    await sign_in(user, name='Boss', email='boss@example.com', then='/admin')
    boss = await user_id(services, 'boss@example.com')
    group = await services.groups.create(boss, 'Marketing')
    await services.groups.add_member(boss, group.id, ada)
    await user.open('/admin')
    gid = group.id
    await should_see(user, marker=f'rename-{gid}')
    user.find(marker=f'rename-{gid}').clear().type('Brand "team" <b>')
    user.find(marker=f'rename-group-{gid}').click()
    await should_see(user, 'Group renamed.')
    await should_see(user, 'Brand "team" <b> · 1 member · $0.00 this month')  # text, not markup
    await should_see(user, marker=f'role-{gid}-{ada}')
    user.find(marker=f'role-{gid}-{ada}').elements.pop().value = 'editor'
    await should_see(user, 'Role changed.')
    assert [m.role for m in await services.groups.members(boss, gid)] == ['editor']
    await user.open('/admin')  # a fresh page, not the one the console is re-rendering after the change
    await should_see(user, marker=f'save-oidc-name-{gid}')
    user.find(marker=f'oidc-name-{gid}').clear().type('cn=brand,ou=groups')
    user.find(marker=f'save-oidc-name-{gid}').click()
    await should_see(user, 'OIDC name saved.')
    assert (await services.groups.policy(boss, gid)).oidc_name == 'cn=brand,ou=groups'
    await user.open('/admin')

    await save_limits(user, gid, '', ['512'])
    await should_see(user, 'Limits saved.')
    await should_see(ada_tab, marker='prompt')
    ada_tab.find(marker='prompt').type('a poster too large for brand')
    ada_tab.find(marker='generate').click()
    await should_see(ada_tab, 'Your group does not allow nanobanana at 1K: choose another model or size, or ask an '
                              'admin.')
    await user.open('/admin')

    assert await services.library.recent_prompts(ada) == []
    await user.open('/admin')

    await should_see(user, marker=f'remove-{gid}-{ada}')
    user.find(marker=f'remove-{gid}-{ada}').click()
    await should_see(user, 'Member removed.')
    await user.open('/admin')
    await should_see(user, marker=f'delete-group-{gid}')
    user.find(marker=f'delete-group-{gid}').click()
    user.find(marker=f'confirm-delete-{gid}').click()
    await should_see(user, 'Group deleted.')
    await should_see(user, 'No groups yet.')
    assert await services.groups.spend_by_group(boss) == []


async def test_a_group_budget_set_in_the_console_refuses_a_generation_saying_so(
        boss_is_admin: None, user: User, create_user: Callable[[], User]) -> None:
    ada_tab = create_user()
    await sign_in(ada_tab, then='/generator')
    services = svc()
    ada = await user_id(services, 'ada@example.com')
    await sign_in(user, name='Boss', email='boss@example.com', then='/admin')
    boss = await user_id(services, 'boss@example.com')
    group = await services.groups.create(boss, 'Design')
    await services.groups.add_member(boss, group.id, ada)
    await user.open('/admin')
    await save_limits(user, group.id, 'lots', [])
    await should_see(user, "A budget is a positive number of dollars (0: no budget).")  # nothing saved
    assert (await services.groups.policy(boss, group.id)).monthly_budget is None
    await user.open('/admin')
    await save_limits(user, group.id, '0.01', [])
    await should_see(user, 'Limits saved.')
    assert (await services.groups.policy(boss, group.id)).monthly_budget == Decimal('0.01')

    ada_tab.find(marker='prompt').type('a lighthouse at dusk')
    ada_tab.find(marker='generate').click()
    await should_see(ada_tab, "The Design group's monthly budget of $0.0100 is spent ($0.0100 left; this costs "
                              '$0.0125). Ask an admin to raise it.')
    assert await services.library.recent_prompts(ada) == []
