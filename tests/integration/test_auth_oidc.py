"""The OpenID Connect sign-in over real HTTP: oidc-provider-mock, a forging provider, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import select

from nanogen.accounts.signin_messages import STATE_MESSAGE, TOKEN_MESSAGE, UNVERIFIED_MESSAGE
from nanogen.bootstrap import Services
from nanogen.config import Settings
from nanogen.models import User
from tests.support.library import promote_admin
from tests.support.oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    ForgingProvider,
    google_claims,
    guarded_app,
    serve_oidc_mock,
    set_claims,
)
from tests.support.servers import serve_asgi


@pytest.fixture
def insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('AUTHLIB_INSECURE_TRANSPORT', '1')  # the providers speak plain http on 127.0.0.1


@pytest.fixture
def oidc_mock(insecure_transport: None) -> Iterator[str]:
    with serve_oidc_mock() as issuer:
        yield issuer


@pytest.fixture
def forging() -> Iterator[ForgingProvider]:
    provider = ForgingProvider()
    with serve_asgi(provider.app) as url:
        provider.issuer = url
        yield provider


def oidc_settings(data_dir: Path, database_url: str, issuer: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(NANOGEN_DATA_DIR=str(data_dir), NANOGEN_DATABASE_URL=database_url,
                                  GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CLIENT_SECRET=CLIENT_SECRET,
                                  NANOGEN_OIDC_METADATA_URL=f'{issuer}/.well-known/openid-configuration')
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def browser_like() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(services: Services) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded_app(services)), base_url='http://testserver')
        clients.append(client)
        return client
    yield make
    for client in clients:
        await client.aclose()


async def start(web: httpx.AsyncClient, redirect_to: str | None = None) -> str:
    """Click "Sign in with Google": the app redirects to the provider with state and nonce."""
    response = await web.get('/auth/oidc/login', params={'redirect_to': redirect_to} if redirect_to else {})
    assert response.status_code == 302, response.text
    location = response.headers['location']
    query = parse_qs(urlsplit(location).query)
    assert query['state'][0] and query['nonce'][0] and query['client_id'] == [CLIENT_ID]
    return location


async def consent(authorize_url: str, sub: str) -> str:
    """What a person does on the provider's page: pick the account; the provider redirects back with a code."""
    async with httpx.AsyncClient() as idp:
        response = await idp.post(authorize_url, data={'sub': sub})
    assert response.status_code == 302, response.text
    return response.headers['location']


async def consent_at_once(authorize_url: str) -> str:
    """The forging provider asks nothing: it redirects straight back with a code."""
    async with httpx.AsyncClient() as idp:
        response = await idp.get(authorize_url)
    assert response.status_code == 302, response.text
    return response.headers['location']


def login_error(response: httpx.Response) -> tuple[str, str]:
    """The message and target a refused sign-in sends to the login page."""
    assert response.status_code == 303, response.text
    url = urlsplit(response.headers['location'])
    assert url.path == '/login'
    query = parse_qs(url.query)
    return query['error'][0], query['redirect_to'][0]


async def signed_in(web: httpx.AsyncClient) -> bool:
    """A guarded route answers 404 (no such image) to a signed-in person and 401 to anyone else."""
    status = (await web.get('/files/999999/image', headers={'accept': 'application/json'})).status_code
    assert status in (401, 404)
    return status == 404


async def test_sign_in_creates_the_user_and_lands_on_the_page_first_asked_for(
        oidc_mock: str, make_services, isolated_env: Path, database_url: str, browser_like) -> None:
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock))
    assert services.local_sign_in is None
    set_claims(oidc_mock, 'google-sub-1', **google_claims('ada@example.com'))
    web = browser_like(services)
    assert not await signed_in(web)
    callback = await consent(await start(web, '/generator?x=1'), 'google-sub-1')
    response = await web.get(callback)
    assert response.status_code == 303 and response.headers['location'] == '/generator?x=1'
    assert await signed_in(web)
    user = await services.db.run(lambda s: s.exec(select(User)).one())
    assert (user.subject, user.email, user.name, user.avatar_url) == (
        'google-sub-1', 'ada@example.com', 'Ada Lovelace', 'https://example.com/ada.png')

    # Signing in again keeps the same user and takes the provider's new name and email.
    set_claims(oidc_mock, 'google-sub-1', **google_claims('ada@example.com', name='Ada King'))
    web2 = browser_like(services)
    response = await web2.get(await consent(await start(web2), 'google-sub-1'))
    assert response.headers['location'] == '/dashboard'
    refreshed = await services.users.get(user.id)
    assert refreshed is not None and refreshed.name == 'Ada King'

    # Sign-out ends the session.
    await web.get('/auth/logout')
    assert not await signed_in(web)


async def test_unverified_email_is_refused(oidc_mock: str, make_services, isolated_env: Path,
                                           database_url: str, browser_like) -> None:
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock))
    set_claims(oidc_mock, 'sub-unverified', **google_claims('eve@example.com', verified=False))
    web = browser_like(services)
    message, target = login_error(await web.get(await consent(await start(web, '/history'), 'sub-unverified')))
    assert message == UNVERIFIED_MESSAGE and target == '/history'
    assert not await signed_in(web)


async def test_wrong_domain_and_wrong_hosted_domain_are_refused(oidc_mock: str, make_services, isolated_env: Path,
                                                                database_url: str, browser_like) -> None:
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock,
                                                 NANOGEN_ALLOWED_DOMAINS='acme.com, acme.org'))
    set_claims(oidc_mock, 'sub-gmail', **google_claims('eve@gmail.com'))
    set_claims(oidc_mock, 'sub-hd', **google_claims('eve@acme.com', hd='evil.example'))
    set_claims(oidc_mock, 'sub-ok', **google_claims('bob@ACME.org', hd='acme.org'))
    for sub in ('sub-gmail', 'sub-hd'):
        web = browser_like(services)
        message, _ = login_error(await web.get(await consent(await start(web), sub)))
        assert message == 'Only accounts from acme.com, acme.org can sign in here. Sign in with your work account.'
        assert not await signed_in(web)
    web = browser_like(services)
    response = await web.get(await consent(await start(web), 'sub-ok'))
    assert response.headers['location'] == '/dashboard' and await signed_in(web)


async def test_bad_or_missing_state_is_refused(oidc_mock: str, make_services, isolated_env: Path,
                                               database_url: str, browser_like) -> None:
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock))
    set_claims(oidc_mock, 'sub-1', **google_claims('ada@example.com'))
    web = browser_like(services)
    callback = await consent(await start(web), 'sub-1')
    tampered = callback.replace('state=', 'state=x')
    message, _ = login_error(await web.get(tampered))
    assert message == STATE_MESSAGE and not await signed_in(web)
    # A callback replayed into another browser (no state in its session) is refused the same way.
    other = browser_like(services)
    message, _ = login_error(await other.get(callback))
    assert message == STATE_MESSAGE and not await signed_in(other)


async def test_disabled_user_cannot_sign_in_and_loses_an_open_session(
        oidc_mock: str, make_services, isolated_env: Path, database_url: str, browser_like) -> None:
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock))
    set_claims(oidc_mock, 'sub-1', **google_claims('ada@example.com'))
    web = browser_like(services)
    await web.get(await consent(await start(web), 'sub-1'))
    assert await signed_in(web)
    user = await services.users.sign_in(subject='sub-1', email='ada@example.com')
    await services.users.set_disabled(user.id, True)
    assert not await signed_in(web)  # at the very next request, despite the identity cache
    again = browser_like(services)
    message, _ = login_error(await again.get(await consent(await start(again), 'sub-1')))
    assert message == 'Your account is disabled. Ask an admin to enable it.'
    await services.users.set_disabled(user.id, False)
    assert await signed_in(web)


async def test_redirect_to_another_site_lands_on_the_dashboard(oidc_mock: str, make_services, isolated_env: Path,
                                                               database_url: str, browser_like) -> None:
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock))
    set_claims(oidc_mock, 'sub-1', **google_claims('ada@example.com'))
    for evil in ('https://evil.example', '//evil.example/x', '/\\evil.example'):
        web = browser_like(services)
        response = await web.get(await consent(await start(web, evil), 'sub-1'))
        assert response.headers['location'] == '/dashboard'


@pytest.mark.parametrize('mode', ['forged', 'expired', 'wrong_audience', 'wrong_issuer', 'wrong_nonce', 'unsigned'])
async def test_bad_id_tokens_are_refused(mode: str, forging: ForgingProvider, make_services, isolated_env: Path,
                                         browser_like, caplog: pytest.LogCaptureFixture) -> None:
    services = await make_services(oidc_settings(isolated_env, f'sqlite:///{isolated_env / "t.db"}', forging.issuer))
    forging.mode = mode
    web = browser_like(services)
    message, target = login_error(await web.get(await consent_at_once(await start(web, '/generator'))))
    assert message == TOKEN_MESSAGE and target == '/generator'
    assert not await signed_in(web)
    assert 'eyJ' not in caplog.text  # no token in the logs


async def test_a_good_token_from_the_forging_provider_is_accepted(forging: ForgingProvider, make_services,
                                                                 isolated_env: Path, browser_like) -> None:
    """The control for the test above: the same provider with an honest token signs the person in."""
    services = await make_services(oidc_settings(isolated_env, f'sqlite:///{isolated_env / "t.db"}', forging.issuer))
    web = browser_like(services)
    response = await web.get(await consent_at_once(await start(web)))
    assert response.headers['location'] == '/dashboard' and await signed_in(web)


async def test_provider_unreachable_gives_a_message(make_services, isolated_env: Path, browser_like,
                                                    insecure_transport: None) -> None:
    services = await make_services(oidc_settings(isolated_env, f'sqlite:///{isolated_env / "t.db"}',
                                                 'http://127.0.0.1:9'))
    web = browser_like(services)
    message, target = login_error(await web.get('/auth/oidc/login', params={'redirect_to': '/history'}))
    assert message == 'The sign-in provider could not be reached. Try again in a minute.' and target == '/history'


async def test_without_an_oidc_client_the_routes_send_people_to_login(make_services, isolated_env: Path,
                                                                      browser_like) -> None:
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env)))
    web = browser_like(services)
    for path in ('/auth/oidc/login', '/auth/oidc/callback?code=x&state=y'):
        response = await web.get(path)
        assert response.status_code == 303 and response.headers['location'] == '/login'


async def test_denying_consent_at_the_provider_is_refused(oidc_mock: str, make_services, isolated_env: Path,
                                                          browser_like) -> None:
    services = await make_services(oidc_settings(isolated_env, f'sqlite:///{isolated_env / "t.db"}', oidc_mock))
    web = browser_like(services)
    async with httpx.AsyncClient() as idp:
        response = await idp.post(await start(web, '/history'), data={'action': 'deny'})
    assert response.status_code == 302 and 'error=access_denied' in response.headers['location']
    message, target = login_error(await web.get(response.headers['location']))
    assert message == 'Sign-in was cancelled or refused by the sign-in provider.' and target == '/history'
    assert not await signed_in(web)


async def test_the_groups_claim_maps_to_groups_on_every_sign_in(oidc_mock: str, make_services, isolated_env: Path,
                                                               database_url: str, browser_like) -> None:
    """Issue 16: with NANOGEN_OIDC_GROUPS_CLAIM, a sign-in joins the named groups and leaves the ones the claim
    dropped; a membership an admin made by hand stays."""
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock,
                                                 NANOGEN_OIDC_GROUPS_CLAIM='groups'))
    root = await services.users.sign_in(subject='local:root@example.com', email='root@example.com')

    await promote_admin(services, root.id)
    design = await services.groups.create(root.id, 'Design')
    ops = await services.groups.create(root.id, 'Ops')
    manual = await services.groups.create(root.id, 'Board')

    async def sign_in_with(groups: list[str]) -> int:
        set_claims(oidc_mock, 'google-sub-g', **google_claims('ada@example.com', groups=groups))
        web = browser_like(services)
        assert (await web.get(await consent(await start(web), 'google-sub-g'))).status_code == 303
        return (await services.db.run(lambda s: s.exec(select(User).where(User.email == 'ada@example.com')).one())).id

    ada = await sign_in_with(['design', 'Ops', 'unknown-group'])
    assert [g.name for g in await services.groups.groups_of(ada)] == ['Design', 'Ops']
    await services.groups.add_member(root.id, manual.id, ada, 'editor')
    await sign_in_with(['Design'])
    assert [(g.name, g.role) for g in await services.groups.groups_of(ada)] == [('Board', 'editor'),
                                                                               ('Design', 'member')]
    assert ops.id not in [g.id for g in await services.groups.groups_of(ada)]
    assert design.id in [g.id for g in await services.groups.groups_of(ada)]


async def test_the_groups_claim_maps_by_the_oidc_name_an_admin_set(oidc_mock: str, make_services, isolated_env: Path,
                                                                  database_url: str, browser_like) -> None:
    """A group whose name differs from the identity provider's (a DN, an id) joins by the OIDC name an admin gave
    it, case-insensitively; after the admin clears it, the next sign-in leaves the group."""
    services = await make_services(oidc_settings(isolated_env, database_url, oidc_mock,
                                                 NANOGEN_OIDC_GROUPS_CLAIM='groups'))
    root = await services.users.sign_in(subject='local:root@example.com', email='root@example.com')
    await promote_admin(services, root.id)
    design = await services.groups.create(root.id, 'Design')
    await services.groups.set_oidc_name(root.id, design.id, 'cn=design,ou=groups,dc=example')

    async def sign_in_with(groups: list[str]) -> list[str]:
        set_claims(oidc_mock, 'google-sub-o', **google_claims('ada@example.com', groups=groups))
        web = browser_like(services)
        assert (await web.get(await consent(await start(web), 'google-sub-o'))).status_code == 303
        ada = await services.db.run(lambda s: s.exec(select(User).where(User.email == 'ada@example.com')).one())
        return [f'{g.name}:{g.role}' for g in await services.groups.groups_of(ada.id)]

    assert await sign_in_with(['CN=Design,OU=Groups,DC=example', 'cn=other']) == ['Design:member']
    await services.groups.set_oidc_name(root.id, design.id, None)
    assert await sign_in_with(['CN=Design,OU=Groups,DC=example']) == []
