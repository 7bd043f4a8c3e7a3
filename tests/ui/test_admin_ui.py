"""The admin console as people use it: non-admins are refused everywhere; every admin action works and is audited."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from nicegui.testing import User
from sqlmodel import select

from nanogen.generation.requests import validate_request
from nanogen.models import AuditEvent, Image, Prompt
from nanogen.models import User as UserRow
from tests.ui.helpers import eventually, should_not_see, should_see, sign_in
from tests.ui.studio import app_services


def services() -> Any:
    return app_services()  # the services app.py built for this test


async def add_person(email: str) -> int:
    row = await services().users.sign_in(subject=f'local:{email}', email=email, name=email.split('@')[0])
    return int(row.id)


async def user_row(uid: int) -> UserRow | None:
    return await services().db.run(lambda s: s.get(UserRow, uid))


async def audit_actions() -> list[str]:
    return await services().db.run(lambda s: [e.action for e in s.exec(select(AuditEvent))])


async def wait_finished(pid: int) -> Prompt:
    async def ended() -> Prompt | None:
        p = await services().db.run(lambda s: s.get(Prompt, pid))
        return p if p.status in ('COMPLETED', 'FAILED', 'CANCELLED') else None
    return await eventually(ended, message=f'prompt {pid} never finished')


@pytest.fixture
def boss_is_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_ADMIN_EMAILS', 'boss@example.com')


@pytest.fixture
def slow_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_DEMO_LATENCY', '60')


async def test_non_admin_is_refused_on_every_admin_page_and_route(boss_is_admin: None, user: User) -> None:
    anonymous = await user.http_client.get('/admin/usage.csv', headers={'Accept': 'application/json'})
    assert anonymous.status_code == 401
    assert (await user.http_client.get('/metrics')).status_code == 401
    page = await user.http_client.get('/admin')
    assert page.status_code == 303 and page.headers['location'].startswith('/login')

    await sign_in(user, name='Ada', email='ada@example.com', then='/admin')
    boss = await add_person('boss@example.com')
    await user.open('/admin')
    await should_see(user, 'This page is for admins only.')
    await should_not_see(user, 'Provider credits')
    await should_not_see(user, 'boss@example.com')
    for path in ('/admin/usage.csv', f'/admin/users/{boss}/export.zip', '/metrics'):
        response = await user.http_client.get(path)
        assert response.status_code == 403, path
        assert response.json()['error']['code'] == 'forbidden'
    assert await audit_actions() == []  # nothing was exported


async def test_admin_sets_a_budget_and_bad_input_changes_nothing(user: User) -> None:
    await sign_in(user, email='ada@example.com', then='/dashboard')  # first user on a dev install: admin
    bob = await add_person('bob@example.com')
    await user.open('/admin')
    await should_see(user, 'bob@example.com')
    await should_see(user, 'Provider credits')
    await should_see(user, '100.00')  # the demo provider's balance, read after the page is shown
    user.find(marker=f'budget-{bob}').type('12.50')
    user.find(marker=f'save-budget-{bob}').click()
    await should_see(user, 'Budget of bob@example.com saved.')
    assert (await user_row(bob)).monthly_budget == Decimal('12.50')
    await should_see(user, 'user.budget user:')
    await should_see(user, 'default -> $12.50')

    user.find(marker=f'budget-{bob}').clear().type('lots')
    user.find(marker=f'save-budget-{bob}').click()
    await should_see(user, 'Enter a budget in dollars, like 25 or 12.50')
    user.find(marker=f'budget-{bob}').clear().type('-3')
    user.find(marker=f'save-budget-{bob}').click()
    await should_see(user, 'A budget cannot be negative.')
    assert (await user_row(bob)).monthly_budget == Decimal('12.50')
    assert await audit_actions() == ['user.budget']


async def test_disabling_a_user_ends_their_session_and_enabling_restores_it(user: User, create_user: Any) -> None:
    await sign_in(user, email='ada@example.com')
    bob_user: User = create_user()
    await sign_in(bob_user, name='Bob', email='bob@example.com', then='/dashboard')
    await bob_user.open('/dashboard')
    await should_see(bob_user, 'Welcome, Bob')
    bob = int((await services().db.run(lambda s: s.exec(
        select(UserRow).where(UserRow.email == 'bob@example.com')).one())).id)

    await user.open('/admin')
    user.find(marker=f'toggle-{bob}').click()
    await should_see(user, 'bob@example.com disabled.')
    assert (await user_row(bob)).disabled
    response = await bob_user.http_client.get('/dashboard')
    assert response.status_code == 303 and response.headers['location'].startswith('/login')

    await should_see(user, marker=f'toggle-{bob}')  # the console re-reads the database after each action
    user.find(marker=f'toggle-{bob}').click()
    await should_see(user, 'bob@example.com enabled.')
    assert not (await user_row(bob)).disabled
    assert await audit_actions() == ['user.disable', 'user.enable']
    await should_see(user, 'user.enable user:')


async def test_admin_cancels_an_in_flight_generation(slow_demo: None, user: User) -> None:
    await sign_in(user, email='ada@example.com')
    bob = await add_person('bob@example.com')
    prompt = await services().generation.create(bob, validate_request(prompt='a very slow mural'))
    await user.open('/admin')
    await should_see(user, 'a very slow mural')
    user.find(marker=f'cancel-{prompt.id}').click()
    await should_see(user, f'Generation #{prompt.id} cancelled.')
    done = await wait_finished(int(prompt.id))
    assert done.status == 'CANCELLED' and done.error_message == 'Cancelled by an admin.'
    await should_see(user, 'Nothing is generating right now.')
    assert await audit_actions() == ['generation.cancel']


async def test_failures_are_grouped_and_the_budget_banner_warns(monkeypatch: pytest.MonkeyPatch, user: User) -> None:
    await sign_in(user, email='ada@example.com')
    bob = await add_person('bob@example.com')
    svc = services()
    svc.demo.config.fail_rate = 1.0
    for n in range(2):
        await wait_finished(int((await svc.generation.create(bob, validate_request(prompt=f'doomed {n}'))).id))
    await svc.admin.set_budget(await add_person('ada@example.com'), bob, '0.05')
    svc.demo.config.fail_rate = 0.0
    await wait_finished(int((await svc.generation.create(bob, validate_request(prompt='fine', size=1536))).id))
    await user.open('/admin')
    await should_see(user, 'The provider could not generate this image')
    assert [e.text for e in user.find(marker='failure-count').elements] == ['2']
    await should_see(user, 'Budget warning')
    await should_see(user, 'bob@example.com has used $0.0450 of $0.0500 this month.')
    await should_see(user, '3 this month · 67% failed')


async def test_usage_csv_export_and_delete_are_admin_actions_on_real_data(user: User) -> None:
    await sign_in(user, email='ada@example.com')
    bob = await add_person('bob@example.com')
    svc = services()
    done = await wait_finished(int((await svc.generation.create(bob, validate_request(prompt='a red kite'))).id))
    assert done.status == 'COMPLETED'
    images = await svc.db.run(lambda s: list(s.exec(select(Image).where(Image.user_id == bob))))
    keys = [k for i in images for k in (i.key, i.original_key, i.thumb_key)]
    assert keys and all([await svc.storage.exists(k) for k in keys])

    csv = await user.http_client.get('/admin/usage.csv')
    assert csv.status_code == 200 and csv.headers['content-type'].startswith('text/csv')
    lines = csv.text.strip().splitlines()
    assert lines[0] == 'month,user_id,email,generations,completed,failed,cancelled,images,cost_usd'
    assert any(line.endswith(f',{bob},bob@example.com,1,1,0,0,1,0.0125') for line in lines[1:]), lines

    export = await user.http_client.get(f'/admin/users/{bob}/export.zip')
    assert export.status_code == 200
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        manifest = json.loads(zf.read('nanogen.json'))
        assert manifest['user']['email'] == 'bob@example.com' and manifest['missing_files'] == []
        assert [p['prompt'] for p in manifest['prompts']] == ['a red kite']
        assert f'images/{done.id}-1.png' in zf.namelist()
    assert (await user.http_client.get('/admin/users/999999/export.zip')).status_code == 404

    await user.open('/admin')
    user.find(marker=f'delete-{bob}').click()
    await should_see(user, 'This cannot be undone.')
    user.find(marker='confirm-delete').click()
    await should_see(user, 'bob@example.com deleted.')
    await should_see(user, 'user.delete user:')
    assert await user_row(bob) is None
    assert await svc.db.run(lambda s: list(s.exec(select(Prompt).where(Prompt.user_id == bob)))) == []
    assert not any([await svc.storage.exists(k) for k in keys])
    assert await audit_actions() == ['usage.export', 'user.export', 'user.delete']


async def test_a_billing_mismatch_is_listed_in_the_console(user: User) -> None:
    demo = services().demo
    original = demo._record_data

    def bill_4k(task: Any, base_url: str) -> dict[str, Any]:
        data = original(task, base_url)
        if data['successFlag'] == 1:
            data['operationType'] = 'nano-banana-2_4k'  # the provider billed 4K for a 1K request
        return data
    demo._record_data = bill_4k
    await sign_in(user, then='/admin')  # the dev install's first user is the admin
    await should_see(user, 'The provider billed every prompt as estimated.')
    uid = await add_person('ada@example.com')
    req = validate_request(prompt='a small sketch', model='nanobanana-2', settings=services().settings)
    prompt = await services().generation.create(uid, req)
    done = await wait_finished(prompt.id)
    assert done.billing_mismatch and done.cost == Decimal('0.08')
    await user.open('/admin')
    await should_see(user, 'asked nanobanana-2 1K, billed nano-banana-2_4k')
    await should_see(user, 'estimated $0.0400, cost $0.0800')
