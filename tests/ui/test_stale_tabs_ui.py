"""Open tabs of a user who was disabled or signed out (issue 11 finding 4): actions change nothing, the tab is sent
to sign in, and scopes/admin actions on the profile and admin pages."""

from __future__ import annotations

from typing import Any

from nicegui.testing import User
from sqlmodel import select

from nanogen.accounts.guard import SIGNED_OUT_MESSAGE
from nanogen.bootstrap import Services
from nanogen.models import ApiToken, AuditEvent
from nanogen.models import User as UserRow
from tests.ui.helpers import eventually, should_see, sign_in
from tests.ui.studio import app_services


def running_services() -> Services:
    return app_services()


def watch_navigation(user: User) -> list[str]:
    """The pages the server tells this tab's browser to open (what a real browser would then load)."""
    opened: list[str] = []
    outbox = user.client.outbox
    original = outbox.enqueue_message

    def spy(message_type: str, data: Any, target_id: Any) -> None:
        if message_type == 'open':
            opened.append(data['path'])
        original(message_type, data, target_id)
    outbox.enqueue_message = spy  # type: ignore[method-assign]
    return opened


async def ada_id(services: Services, email: str = 'ada@example.com') -> int:
    row = await services.db.run(lambda s: s.exec(select(UserRow).where(UserRow.email == email)).one())
    return int(row.id)


async def tokens_in_db(services: Services) -> int:
    return len(await services.db.run(lambda s: list(s.exec(select(ApiToken)))))


async def test_an_action_in_a_tab_of_a_disabled_user_changes_nothing_and_goes_to_sign_in(user: User) -> None:
    """Issue 11 finding 4: the page was opened while signed in; the user is then disabled behind the app's back (as
    another replica would, so no push reaches this tab); the next click is refused before it changes data, and the
    tab is sent to /login with the reason."""
    await sign_in(user, then='/profile')
    await should_see(user, marker='create-token')
    services = running_services()
    opened = watch_navigation(user)
    uid = await ada_id(services)

    def disable(s: Any) -> None:
        row = s.get(UserRow, uid)
        row.disabled = True
        s.add(row)
        s.commit()
    await services.db.write(disable)
    services.auth.forget(uid)  # the other replica's change, without this replica's push

    user.find(marker='token-name').type('after disable')
    user.find(marker='create-token').click()
    await eventually(lambda: opened)
    assert opened == ['/login?error=' + SIGNED_OUT_MESSAGE.replace(' ', '%20')]
    assert await tokens_in_db(services) == 0


async def test_a_tab_is_told_at_once_when_its_user_is_disabled_or_signs_out_everywhere(user: User,
                                                                                       create_user: Any) -> None:
    """Issue 11 finding 4: disabling a user (admin service) or "sign out everywhere" pushes to that user's open tabs,
    which go to /login without waiting for a click; another user's tab is left alone."""
    await sign_in(user, email='ada@example.com', then='/gallery')
    bystander: User = create_user()
    await sign_in(bystander, name='Bob', email='bob@example.com', then='/gallery')
    services = running_services()
    uid = await ada_id(services)
    ada_opened, bob_opened = watch_navigation(user), watch_navigation(bystander)
    boss = await services.users.sign_in(subject='local:boss@example.com', email='boss@example.com')
    await services.admin.set_disabled(int(boss.id), uid, True)
    await eventually(lambda: ada_opened)
    assert ada_opened[0].startswith('/login?error=') and bob_opened == []

    await services.users.sign_out_everywhere(await ada_id(services, 'bob@example.com'))  # from another device
    await eventually(lambda: bob_opened)
    assert bob_opened[0].startswith('/login?error=')


async def test_the_sign_in_page_says_why_a_tab_was_signed_out(user: User) -> None:
    """Issue 11 finding 4: where a stale tab lands, the person reads why."""
    await user.open('/login?error=' + SIGNED_OUT_MESSAGE)
    await should_see(user, SIGNED_OUT_MESSAGE)


async def test_tokens_get_a_scope_chosen_on_the_profile_page_and_shown_in_the_list(user: User) -> None:
    """Issue 11 finding 9: the profile page asks for a scope (read by default; admin only for admins) and lists it."""
    await sign_in(user, email='ada@example.com', then='/profile')  # the first user of a dev install: an admin
    user.find(marker='token-name').type('reader')
    user.find(marker='create-token').click()
    await should_see(user, 'Copy it now')
    user.find(marker='close-token').click()
    rows = await running_services().db.run(lambda s: list(s.exec(select(ApiToken))))
    assert [(r.name, r.scope) for r in rows] == [('reader', 'read')]
    await should_see(user, marker=f'token-scope-{rows[0].id}')
    assert user.find(marker='token-scope').elements.pop().options == {
        'read': 'Read: list and download only', 'generate': 'Generate: read, generate and delete',
        'admin': 'Admin: everything, with admin rights'}


async def test_an_admin_promotes_and_demotes_from_the_console(user: User) -> None:
    """Issue 11 finding 10: /admin has a promote/demote action per user, audited; demoting the last admin is
    refused with a message."""
    await sign_in(user, email='ada@example.com', then='/admin')
    services = running_services()
    bob = await services.users.sign_in(subject='local:bob@example.com', email='bob@example.com')
    await user.open('/admin')
    user.find(marker=f'admin-{bob.id}').click()
    await should_see(user, 'bob@example.com is now an admin.')
    me = await ada_id(services)
    await should_see(user, marker=f'admin-{me}')
    user.find(marker=f'admin-{bob.id}').click()
    await should_see(user, 'bob@example.com is no longer an admin.')
    await should_see(user, marker=f'admin-{me}')
    user.find(marker=f'admin-{me}').click()
    await should_see(user, 'That would leave no admin: promote someone else first.')
    actions = await services.db.run(lambda s: [e.action for e in s.exec(select(AuditEvent))])
    assert actions == ['user.promote', 'user.demote']
