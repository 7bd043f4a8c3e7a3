"""/api/v1/groups (issue 16): admins create, rename and delete groups, manage members and roles, and set budgets and
allow-lists; everyone else gets 403/404; every change is in the audit log (SQLite and PostgreSQL below)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from nicegui.testing import User
from sqlmodel import col, select

from nanogen.errors import Forbidden, InvalidInput
from nanogen.models import AuditEvent, Board
from tests.conftest import make_settings
from tests.integration.api_support import api_user, app_services, error_of
from tests.integration.test_boards import make_admin
from tests.integration.test_generation import add_user
from tests.support.library import promote_admin


async def audit_actions() -> list[str]:
    return await app_services().db.run(lambda s: list(s.exec(select(AuditEvent.action).where(
        col(AuditEvent.action).startswith('group.')).order_by(col(AuditEvent.id)))))


async def test_an_admin_manages_groups_members_roles_and_limits_over_the_api(user: User) -> None:
    root = await api_user(user, 'root@example.com')
    await promote_admin(app_services(), root.id)
    ada = await api_user(user, 'ada@example.com')
    made = await root.client.post('/api/v1/groups', json={'name': 'Design "team" <b>'})
    assert made.status_code == 201, made.text
    group = made.json()['data']
    assert (group['name'], group['members']) == ('Design "team" <b>', 0)
    url = f"/api/v1/groups/{group['id']}"
    assert error_of(await root.client.post('/api/v1/groups', json={'name': 'design "TEAM" <b>'}), 422)['field'] == 'name'
    renamed = await root.client.patch(url, json={'name': 'Design'})
    assert renamed.json()['data']['name'] == 'Design'
    assert (await root.client.post(f'{url}/members', json={'email': 'ada@example.com'})).status_code == 201
    assert error_of(await root.client.post(f'{url}/members', json={'email': 'nobody@example.com'}), 404)
    assert error_of(await root.client.patch(f'{url}/members/{ada.id}', json={'role': 'boss'}), 422)['field'] == 'role'
    assert (await root.client.patch(f'{url}/members/{ada.id}', json={'role': 'editor'})).status_code == 200
    members = (await root.get(f'{url}/members')).json()['data']
    assert [(m['email'], m['role'], m['source']) for m in members] == [('ada@example.com', 'editor', 'manual')]
    policy = await root.client.put(f'{url}/policy', json={'monthly_budget': '5.50', 'allowed_models': ['nanobanana'],
                                                          'allowed_resolutions': ['1k', '1024']})
    assert policy.status_code == 200, policy.text
    data = policy.json()['data']
    assert Decimal(data['monthly_budget']) == Decimal('5.50')
    assert (data['allowed_models'], data['allowed_resolutions']) == (['nanobanana'], ['1K', '1024'])
    assert error_of(await root.client.put(f'{url}/policy', json={'monthly_budget': -1}), 422)
    assert error_of(await root.client.put(f'{url}/policy', json={'allowed_resolutions': ['8K']}), 422)

    # Ada (a member, not an admin) lists her own groups, with her role (no OIDC name: that is the admins'), so a
    # script finds the group_id to share a board with; an admin lists every group.
    assert (await root.client.patch(url, json={'oidc_name': 'cn=design,ou=groups'})).json()['data']['oidc_name'] == \
        'cn=design,ou=groups'
    taken = await root.client.post('/api/v1/groups', json={'name': 'Ops', 'oidc_name': 'CN=Design,OU=groups'})
    assert error_of(taken, 422)['field'] == 'oidc_name'  # one claim entry names one group
    assert error_of(await root.client.patch(url, json={}), 422)
    assert (await root.client.post('/api/v1/groups', json={'name': 'Ops'})).status_code == 201
    mine = (await ada.get('/api/v1/groups')).json()['data']
    assert [(g['id'], g['name'], g['role'], g['oidc_name']) for g in mine] == [(group['id'], 'Design', 'editor', None)]
    everyone = (await root.get('/api/v1/groups')).json()['data']
    assert [(g['name'], g['role'], g['oidc_name']) for g in everyone] == [('Design', None, 'cn=design,ou=groups'),
                                                                         ('Ops', None, None)]
    ops = everyone[1]['id']
    assert (await root.client.delete(f'/api/v1/groups/{ops}')).status_code == 200

    # Ada: 403 for the admin's operations, 404 for a group that does not exist.
    for method, path, body in (('POST', '/api/v1/groups', {'name': 'Mine'}), ('PATCH', url, {'oidc_name': 'x'}),
                               ('PATCH', url, {'name': 'x'}), ('DELETE', url, None), ('GET', f'{url}/policy', None),
                               ('PUT', f'{url}/policy', {'monthly_budget': 100}),
                               ('POST', f'{url}/members', {'email': 'ada@example.com', 'role': 'admin'}),
                               ('PATCH', f'{url}/members/{ada.id}', {'role': 'admin'})):
        assert error_of(await ada.client.request(method, path, json=body), 403)['code'] == 'forbidden', (method, path)
    assert error_of(await root.client.get('/api/v1/groups/999999/policy'), 404)
    assert error_of(await root.client.delete('/api/v1/groups/999999'), 404)
    assert [g['name'] for g in (await root.get('/api/v1/groups')).json()['data']] == ['Design']

    assert (await root.client.delete(f'{url}/members/{ada.id}')).status_code == 200
    assert (await root.client.delete(url)).status_code == 200
    assert (await root.get('/api/v1/groups')).json()['data'] == []
    assert await audit_actions() == ['group.create', 'group.rename', 'group.member_add', 'group.role', 'group.policy',
                                     'group.oidc_name', 'group.create', 'group.delete', 'group.member_remove',
                                     'group.delete']


async def test_deleting_a_group_makes_its_boards_private_and_refuses_non_admins(
        database_url: str, make_services, isolated_env: Path) -> None:
    services = await make_services(make_settings(isolated_env, database_url, 'http://127.0.0.1:9'))
    root = await make_admin(services)
    ada = await add_user(services, 'ada@example.com')
    group = await services.groups.create(root, 'Design')
    await services.groups.add_member(root, group.id, ada, 'admin')
    board = await services.library.boards.create(ada, 'Shared', '')
    await services.library.boards.share_with_group(ada, board.id, group.id)
    for refused in (services.groups.rename(ada, group.id, 'Mine'), services.groups.delete(ada, group.id)):
        try:
            await refused
        except Forbidden:
            pass
        else:
            raise AssertionError('a group admin who is not an app admin renamed or deleted the group')
    try:
        await services.groups.rename(root, group.id, '   ')
    except InvalidInput as exc:
        assert exc.field == 'name'
    await services.groups.delete(root, group.id)
    assert await services.db.run(lambda s: s.get(Board, board.id).group_id) is None
    assert (await services.library.boards.get(ada, board.id)).name == 'Shared'  # the board and its images stay
    assert await services.groups.groups_of(ada) == []


async def test_a_model_off_the_groups_list_is_refused_over_the_api_with_a_clear_message(user: User) -> None:
    root = await api_user(user, 'root@example.com')
    await promote_admin(app_services(), root.id)
    ada = await api_user(user, 'ada@example.com')
    group = (await root.client.post('/api/v1/groups', json={'name': 'Marketing'})).json()['data']
    url = f"/api/v1/groups/{group['id']}"
    assert (await root.client.post(f'{url}/members', json={'email': 'ada@example.com'})).status_code == 201
    assert (await root.client.put(f'{url}/policy', json={'allowed_models': ['nanobanana']})).status_code == 200
    refused = await ada.client.post('/api/v1/images/generate', json={
        'prompt': 'a poster', 'model': 'nanobanana-pro', 'resolution': '2K'})
    error = error_of(refused, 403)
    assert (error['code'], error['message']) == ('forbidden', 'Your group does not allow the model Nano Banana Pro '
                                                 '(nanobanana-pro): choose Nano Banana (nanobanana), or ask an admin.')
    assert (await ada.get('/api/v1/prompts')).json()['data']['items'] == []
