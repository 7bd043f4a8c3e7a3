"""Accounts and sessions (issue 11 findings 3, 8, 9, 10, 14) through the app's guard, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from nanogen.accounts.guard import USED_LINK_MESSAGE, LocalSignIn
from nanogen.bootstrap import Services
from nanogen.config import Settings
from nanogen.errors import AuthError, InvalidInput, NotFound
from nanogen.models import AuditEvent, Share, User, UserSession
from tests.conftest import make_settings
from tests.support.library import make_images
from tests.support.oidc import guarded_app


@pytest.fixture
async def services(make_services, isolated_env: Path, database_url: str) -> Services:
    return await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env), NANOGEN_DATABASE_URL=database_url,
                                        NANOGEN_ADMIN_EMAILS='boss@example.com'))


def client(services: Services) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded_app(services)), base_url='http://testserver')


@pytest.fixture
async def browser(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client(services) as c:
        yield c


async def sign_in(c: httpx.AsyncClient, services: Services, email: str) -> str:
    """Local sign-in the way a browser does it; returns the session cookie."""
    assert services.local_sign_in is not None
    ticket = services.local_sign_in.ticket(email.split('@')[0], email)
    response = await c.get('/auth/local', params={'t': ticket, 'redirect_to': '/generator'})
    assert response.status_code == 303 and response.headers['location'] == '/generator', response.headers
    return c.cookies['session']


async def me(services: Services, cookie: str) -> httpx.Response:
    async with client(services) as c:  # a fresh client: only the cookie given, as an attacker would replay it
        return await c.get('/api/v1/me', headers={'Cookie': f'session={cookie}'})


async def user_id(services: Services, email: str) -> int:
    row = await services.db.run(lambda s: s.exec(select(User).where(User.email == email)).one())
    assert row.id is not None
    return row.id


# ---------------------------------------------------------------- finding 3: ids are never reused

async def test_a_deleted_users_cookie_never_signs_in_the_next_user(services: Services,
                                                                   browser: httpx.AsyncClient) -> None:
    """Issue 11 finding 3: a deleted user's id is not handed to the next person, and the old cookie (which names the
    id and the user's random session epoch) does not sign in as them."""
    await services.users.sign_in(subject='local:boss@example.com', email='boss@example.com')
    boss = await user_id(services, 'boss@example.com')
    old_cookie = await sign_in(browser, services, 'gone@example.com')
    gone = await user_id(services, 'gone@example.com')
    assert (await me(services, old_cookie)).json()['data']['email'] == 'gone@example.com'

    await services.admin.delete_user(boss, gone)
    newcomer = await services.users.sign_in(subject='local:new@example.com', email='new@example.com')
    assert newcomer.id != gone  # SQLite without AUTOINCREMENT gave the newcomer the deleted id
    await asyncio.sleep(services.auth.cache_seconds)
    assert (await me(services, old_cookie)).status_code == 401


@pytest.fixture
async def studio(fake, make_services, isolated_env: Path, database_url: str) -> Services:
    _provider, url = fake
    return await make_services(make_settings(isolated_env, database_url, url, NANOGEN_UNDO_WINDOW=0.2))


async def test_a_deleted_share_link_never_shows_the_next_shared_image(studio: Services) -> None:
    """Issue 11 finding 3: share links are random tokens stored as sha256, not ids, and image/share ids are not
    reused: an old public link of a deleted image does not show someone else's newly shared image."""
    services = studio
    ada = await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')
    bob = await services.users.sign_in(subject='local:bob@example.com', email='bob@example.com')
    assert ada.id is not None and bob.id is not None
    [ada_image] = await make_images(services, ada.id, 'ada private sunrise')
    old = await services.library.create_share(ada.id, ada_image)
    old_token = old.path.removeprefix('/s/')
    stored = await services.db.run(lambda s: s.get(Share, old.id))
    assert stored.token_hash == hashlib.sha256(old_token.encode()).hexdigest()
    assert old_token not in (stored.salt or '')  # the link itself is not in the database

    await services.library.delete_images(ada.id, [ada_image])
    for _ in range(100):  # the undo window passes: the image and its share rows are removed for good
        if await services.db.run(lambda s: s.get(Share, old.id)) is None:
            break
        await asyncio.sleep(0.05)
    assert await services.db.run(lambda s: s.get(Share, old.id)) is None

    [bob_image] = await make_images(services, bob.id, 'bob new picture')
    new = await services.library.create_share(bob.id, bob_image)
    assert bob_image != ada_image and new.id != old.id  # SQLite reused both ids before AUTOINCREMENT
    with pytest.raises(NotFound):
        await services.library.resolve_share(old_token)
    assert (await services.library.resolve_share(new.path.removeprefix('/s/'))).prompt == 'bob new picture'


# ---------------------------------------------------------------- finding 8: sign-out ends the session

async def test_a_cookie_replayed_after_sign_out_is_refused(services: Services, browser: httpx.AsyncClient) -> None:
    """Issue 11 finding 8: plain "Sign out" ends that session server-side; a copy of the old cookie is refused,
    while the same user's other browser stays signed in."""
    cookie = await sign_in(browser, services, 'ada@example.com')
    async with client(services) as other:
        other_cookie = await sign_in(other, services, 'ada@example.com')
    assert (await me(services, cookie)).status_code == 200

    response = await browser.get('/auth/logout')
    assert response.status_code == 303
    assert (await me(services, cookie)).status_code == 401
    assert (await me(services, other_cookie)).status_code == 200
    uid = await user_id(services, 'ada@example.com')
    rows = await services.db.run(lambda s: list(s.exec(select(UserSession).where(UserSession.user_id == uid))))
    assert sorted(r.revoked_at is None for r in rows) == [False, True]


async def test_sign_out_everywhere_ends_every_session(services: Services, browser: httpx.AsyncClient) -> None:
    """Issue 11 finding 3/8: "sign out everywhere" gives the user a new session epoch; every old cookie is refused."""
    cookie = await sign_in(browser, services, 'ada@example.com')
    await services.users.sign_out_everywhere(await user_id(services, 'ada@example.com'))
    assert (await me(services, cookie)).status_code == 401
    assert (await me(services, await sign_in(browser, services, 'ada@example.com'))).status_code == 200


# ---------------------------------------------------------------- finding 9: token scopes, API only

async def token(services: Services, email: str, scope: str) -> str:
    row = await services.users.sign_in(subject=f'local:{email}', email=email)
    assert row.id is not None
    return (await services.tokens.create(row.id, f'{scope} script', scope=scope)).secret


async def test_tokens_work_only_under_the_api(services: Services, browser: httpx.AsyncClient) -> None:
    """Issue 11 finding 9: a personal token (even an admin's, admin scope) opens /api/v1 only: not files, pages,
    /admin/* or /metrics. The API's schema (/api/openapi.json) is part of the API: scripts generate clients from it."""
    secret = await token(services, 'boss@example.com', 'admin')
    bearer = {'Authorization': f'Bearer {secret}', 'Accept': 'application/json'}
    assert (await browser.get('/api/v1/me', headers=bearer)).json()['data']['is_admin'] is True
    assert '/api/v1/me' in (await browser.get('/api/openapi.json', headers=bearer)).json()['paths']
    for path in ('/files/1/image', '/dashboard', '/admin'):
        assert (await browser.get(path, headers=bearer)).status_code == 401, path
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_full_app(services)),
                                 base_url='http://testserver') as full:
        for path in ('/admin/usage.csv', '/metrics'):
            assert (await full.get(path, headers=bearer)).status_code == 401, path


def _full_app(services: Services) -> object:
    from nanogen.http.admin import build_admin_router
    app = guarded_app(services)
    app.include_router(build_admin_router(services))
    return app


async def test_a_read_token_cannot_generate_and_scopes_are_listed(services: Services,
                                                                   browser: httpx.AsyncClient) -> None:
    """Issue 11 finding 9: a read token reads but gets 403 JSON on anything that changes data; admin scope is for
    admins only; a generate token of an admin carries no admin rights."""
    read = {'Authorization': f'Bearer {await token(services, "ada@example.com", "read")}'}
    assert (await browser.get('/api/v1/me', headers=read)).status_code == 200
    refused = await browser.post('/api/v1/images/generate', headers=read, json={'prompt': 'a cat'})
    assert refused.status_code == 403 and refused.json()['error']['code'] == 'forbidden'
    assert (await browser.delete('/api/v1/images/1', headers=read)).status_code == 403

    ada = await user_id(services, 'ada@example.com')
    with pytest.raises(InvalidInput, match='admin'):
        await services.tokens.create(ada, 'sneaky', scope='admin')
    with pytest.raises(InvalidInput):
        await services.tokens.create(ada, 'odd', scope='everything')
    assert sorted(t.scope for t in await services.tokens.list(ada)) == ['read']

    boss_generate = {'Authorization': f'Bearer {await token(services, "boss@example.com", "generate")}'}
    assert (await browser.get('/api/v1/me', headers=boss_generate)).json()['data']['is_admin'] is False


# ---------------------------------------------------------------- finding 10: admin rights can be taken away

async def test_an_admin_dropped_from_the_list_is_demoted_at_the_next_request(services: Services,
                                                                             browser: httpx.AsyncClient) -> None:
    """Issue 11 finding 10: when NANOGEN_ADMIN_EMAILS no longer lists someone they lose admin at their next request;
    someone promoted in /admin stays admin until demoted there."""
    cookie = await sign_in(browser, services, 'boss@example.com')
    assert (await me(services, cookie)).json()['data']['is_admin'] is True
    boss = await user_id(services, 'boss@example.com')
    await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')
    ada = await user_id(services, 'ada@example.com')
    await services.admin.set_admin(boss, ada, True)

    services.settings.admin_emails = 'someone-else@example.com'
    await asyncio.sleep(services.auth.cache_seconds)
    assert (await me(services, cookie)).json()['data']['is_admin'] is False
    rows = {u.email: u.is_admin for u in await services.db.run(lambda s: list(s.exec(select(User))))}
    assert rows == {'boss@example.com': False, 'ada@example.com': True}


async def test_promote_and_demote_are_audited_and_never_leave_zero_admins(services: Services) -> None:
    """Issue 11 finding 10: /admin's promote/demote: audited, a listed admin is demoted through the list, and the
    last admin cannot demote themselves."""
    boss = (await services.users.sign_in(subject='local:boss@example.com', email='boss@example.com')).id
    ada = (await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')).id
    assert boss is not None and ada is not None
    await services.admin.set_admin(boss, ada, True)
    with pytest.raises(InvalidInput, match='NANOGEN_ADMIN_EMAILS'):
        await services.admin.set_admin(ada, boss, False)
    services.settings.admin_emails = ''
    await services.admin.set_admin(ada, boss, False)
    with pytest.raises(InvalidInput, match='no admin'):
        await services.admin.set_admin(ada, ada, False)
    rows = {u.email: u.is_admin for u in await services.db.run(lambda s: list(s.exec(select(User))))}
    assert rows == {'boss@example.com': False, 'ada@example.com': True}
    actions = await services.db.run(lambda s: [(e.actor_id, e.action) for e in s.exec(select(AuditEvent))])
    assert actions == [(boss, 'user.promote'), (ada, 'user.demote')]


async def test_the_first_user_of_a_dev_install_stays_admin(make_services, isolated_env: Path) -> None:
    """Issue 11 finding 10: the dev-install rule is kept: without an admin list the first person runs it, and
    keeps running it (they are not 'configured', so no list change demotes them)."""
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env)))
    first = await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')
    second = await services.users.sign_in(subject='local:bob@example.com', email='bob@example.com')
    again = await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')
    assert (first.is_admin, second.is_admin, again.is_admin) == (True, False, True)


# ---------------------------------------------------------------- finding 14: single-use sign-in tickets

async def test_a_local_sign_in_ticket_works_once(services: Services, browser: httpx.AsyncClient) -> None:
    """Issue 11 finding 14: a local sign-in link cannot be replayed, also not on another replica (the used ticket
    is remembered in the database)."""
    assert services.local_sign_in is not None
    ticket = services.local_sign_in.ticket('Ada', 'ada@example.com')
    first = await browser.get('/auth/local', params={'t': ticket})
    assert first.status_code == 303 and first.headers['location'] == '/dashboard'
    async with client(services) as attacker:
        replay = await attacker.get('/auth/local', params={'t': ticket})
        assert replay.status_code == 303 and replay.headers['location'].startswith('/login?error=')
        assert 'session' not in attacker.cookies
    other_replica = LocalSignIn(services.secret_key, services.db)
    fresh = services.local_sign_in.ticket('Ada', 'ada@example.com')
    assert await other_replica.redeem(fresh) == ('Ada', 'ada@example.com')
    with pytest.raises(AuthError, match=USED_LINK_MESSAGE):
        await services.local_sign_in.redeem(fresh)
