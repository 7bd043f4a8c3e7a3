"""Group budgets and model/resolution allow-lists (issue 16), enforced in the prompt's insert transaction, against
real databases and the contract fake over HTTP."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import col, select

from nanogen.batches.inputs import RawRow
from nanogen.errors import BudgetExceeded, Forbidden, InvalidInput
from nanogen.generation.group_policy import request_terms
from nanogen.generation.requests import validate_request
from nanogen.models import AuditEvent, Prompt
from tests.conftest import make_settings
from tests.integration.test_boards import make_admin
from tests.integration.test_generation import add_user

ONE = Decimal('0.0125')  # one 1024 px image at the default price


async def test_twenty_members_at_once_against_a_group_budget_for_five_make_exactly_five(
        database_url: str, fake, make_services, isolated_env: Path) -> None:
    """The group budget holds under concurrency (its own advisory lock on PostgreSQL), and outsiders are not held."""
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url))
    root = await make_admin(services)
    group = await services.groups.create(root, 'Design')
    await services.groups.set_policy(root, group.id, monthly_budget=ONE * 5)
    uids = [await add_user(services, f'user{n}@example.com') for n in range(20)]
    for uid in uids:
        await services.groups.add_member(root, group.id, uid)
    req = validate_request(prompt='a paper boat on a pond')
    results = await asyncio.gather(*(services.generation.create(uid, req) for uid in uids), return_exceptions=True)
    created = [r for r in results if isinstance(r, Prompt)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(created) == 5 and len(refused) == 15, results
    assert refused[0].user_message.startswith("The Design group's monthly budget of $0.0625 is spent")
    status = await services.budget.remaining(uids[0])  # the widget's figure: the group's, spent by the others too
    assert (status.remaining, status.group) == (0, 'Design')
    outsider = await add_user(services, 'outsider@example.com')
    assert isinstance(await services.generation.create(outsider, req), Prompt)
    assert (await services.budget.remaining(outsider)).group is None
    actions = await services.db.run(lambda s: list(s.exec(select(AuditEvent.action).order_by(col(AuditEvent.id)))))
    assert 'group.policy' in actions and actions.count('group.member_add') == 20


async def test_an_allow_list_refuses_other_models_and_resolutions_with_a_clear_message(
        fake, make_services, isolated_env: Path) -> None:
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/g.db', url))
    root = await make_admin(services)
    ada = await add_user(services, 'ada@example.com')
    small = await services.groups.create(root, 'Marketing')
    await services.groups.add_member(root, small.id, ada)
    await services.groups.set_policy(root, small.id, allowed_models=['nanobanana'], allowed_resolutions=['512'])
    with pytest.raises(Forbidden) as info:
        await services.generation.create(ada, validate_request(prompt='a big poster', size=1024))
    assert info.value.user_message == ('Your group does not allow nanobanana at 1K: choose another model or size, '
                                       'or ask an admin.')
    assert await services.db.run(lambda s: list(s.exec(select(Prompt)))) == []  # nothing queued, nothing billed
    assert isinstance(await services.generation.create(ada, validate_request(prompt='a small one', size=512)), Prompt)
    design = await services.groups.create(root, 'Design')  # a second group's list widens what Ada may use
    await services.groups.add_member(root, design.id, ada)
    await services.groups.set_policy(root, design.id, allowed_resolutions=['1K'])
    assert isinstance(await services.generation.create(ada, validate_request(prompt='now allowed', size=1024)), Prompt)
    with pytest.raises(InvalidInput):
        await services.groups.set_policy(root, design.id, allowed_resolutions=['8K'])
    with pytest.raises(Forbidden):
        await services.groups.set_policy(ada, design.id, monthly_budget=Decimal(1))


async def test_a_model_allow_list_refuses_another_model_at_any_resolution_naming_the_allowed_ones(
        fake, make_services, isolated_env: Path) -> None:
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/g.db', url))
    root = await make_admin(services)
    ada = await add_user(services, 'ada@example.com')
    group = await services.groups.create(root, 'Marketing')
    await services.groups.add_member(root, group.id, ada)
    await services.groups.set_policy(root, group.id, allowed_models=['nanobanana', 'nanobanana-2'])
    for resolution in ('1K', '4K'):
        with pytest.raises(Forbidden) as info:
            await services.generation.create(ada, validate_request(prompt='a poster', model='nanobanana-pro',
                                                                   resolution=resolution))
        assert info.value.user_message == ('Your group does not allow the model Nano Banana Pro (nanobanana-pro): '
                                           'choose Nano Banana (nanobanana) or Nano Banana 2 (nanobanana-2), or ask '
                                           'an admin.')
    assert await services.db.run(lambda s: list(s.exec(select(Prompt)))) == []
    assert isinstance(await services.generation.create(ada, validate_request(
        prompt='a poster', model='nanobanana-2', resolution='4K')), Prompt)


def test_request_terms_name_a_size_and_its_class_or_a_resolution_alone() -> None:
    assert request_terms(validate_request(prompt='xyz', size=1536)) == ('nanobanana', {'1536', '2K'})
    # Pro and 2 carry size=1024 as a placeholder: only their resolution is a term, so "1024" never allows them.
    assert request_terms(validate_request(prompt='xyz', model='nanobanana-pro', resolution='4K')) == (
        'nanobanana-pro', {'4K'})


async def test_a_pixel_size_on_the_list_does_not_let_pro_through_at_any_resolution(
        fake, make_services, isolated_env: Path) -> None:
    """The README's own list, ["1K", "1024"]: Pro and 2 are checked by resolution, so 1K passes and 4K does not."""
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/g.db', url))
    root = await make_admin(services)
    ada = await add_user(services, 'ada@example.com')
    group = await services.groups.create(root, 'Marketing')
    await services.groups.add_member(root, group.id, ada)
    await services.groups.set_policy(root, group.id, allowed_resolutions=['1K', '1024'])
    with pytest.raises(Forbidden) as info:
        await services.generation.create(ada, validate_request(prompt='a poster', model='nanobanana-pro',
                                                               resolution='4K'))
    assert info.value.user_message == ('Your group does not allow nanobanana-pro at 4K: choose another model or '
                                       'size, or ask an admin.')
    await services.groups.set_policy(root, group.id, allowed_resolutions=['1024'])  # pixels only: Nano Banana's
    with pytest.raises(Forbidden):
        await services.generation.create(ada, validate_request(prompt='a poster', model='nanobanana-2',
                                                               resolution='1K'))
    assert isinstance(await services.generation.create(ada, validate_request(prompt='a fox', size=1024)), Prompt)
    await services.groups.set_policy(root, group.id, allowed_resolutions=['1K'])
    assert isinstance(await services.generation.create(ada, validate_request(
        prompt='a fox', model='nanobanana-pro', resolution='1K')), Prompt)


async def test_a_batch_checks_the_allow_list_for_every_size_it_asks_for(
        fake, make_services, isolated_env: Path) -> None:
    """Nano Banana rows carry no resolution: a 2K row before a 512 px one must not hide behind the 512 px check."""
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/g.db', url))
    assert services.batches is not None
    root = await make_admin(services)
    ada = await add_user(services, 'ada@example.com')
    group = await services.groups.create(root, 'Marketing')
    await services.groups.add_member(root, group.id, ada)
    await services.groups.set_policy(root, group.id, allowed_resolutions=['512'])
    rows = [RawRow(number=1, prompt='a big fox', size='1536'), RawRow(number=2, prompt='a small fox', size='512')]
    with pytest.raises(Forbidden) as info:
        await services.batches.create(ada, rows, source='rows')
    assert info.value.user_message == ('Row 1: Your group does not allow nanobanana at 2K: choose another model or '
                                       'size, or ask an admin. Nothing was submitted.')
    pro = [RawRow(number=1, prompt='a fox', model='nanobanana-pro', size='1K'),
           RawRow(number=2, prompt='a fox', model='nanobanana-pro', size='4K')]
    await services.groups.set_policy(root, group.id, allowed_resolutions=['512', '1K', '1024'])
    with pytest.raises(Forbidden, match=r'^Row 2: .* nanobanana-pro at 4K'):
        await services.batches.create(ada, pro, source='rows')
    assert await services.db.run(lambda s: list(s.exec(select(Prompt)))) == []  # all rows or none
    batch = await services.batches.create(ada, [rows[1], pro[0]], source='rows')
    assert batch.total_rows == 2
