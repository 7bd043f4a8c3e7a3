"""Personal API tokens against a real database, sent as `Authorization: Bearer` through the app's guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from nanogen.accounts.tokens import TokenService, hash_token
from nanogen.bootstrap import Services
from nanogen.config import Settings
from nanogen.errors import InvalidInput, NotFound
from nanogen.models import utcnow
from tests.support.oidc import guarded_app


@pytest.fixture
async def services(make_services, isolated_env: Path, database_url: str) -> Services:
    return await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env), NANOGEN_DATABASE_URL=database_url))


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded_app(services)),
                                 base_url='http://testserver') as client:
        yield client


async def add_user(services: Services, email: str) -> int:
    user = await services.users.sign_in(subject=f'local:{email}', email=email, name=email.split('@')[0])
    assert user.id is not None
    return user.id


async def status_with(api: httpx.AsyncClient, token: str) -> int:
    """A guarded API route: 404 (no such image) with a good token, 401 with a bad one."""
    response = await api.get('/api/v1/images/999999', headers={'Authorization': f'Bearer {token}'})
    if response.status_code == 401:
        assert response.json()['error'] == {'code': 'unauthorized', 'message': 'Sign in or send a valid API token.'}
        assert response.headers['www-authenticate'] == 'Bearer'
    return response.status_code


async def test_a_token_works_until_it_is_revoked(services: Services, api: httpx.AsyncClient) -> None:
    uid = await add_user(services, 'ada@example.com')
    new = await services.tokens.create(uid, 'laptop script')
    assert new.secret.startswith('ngk_') and len(new.secret) > 40 and new.info.prefix == new.secret[:12]
    assert await status_with(api, new.secret) == 404
    listed = await services.tokens.list(uid)
    assert [(t.id, t.name, t.expires_at) for t in listed] == [(new.info.id, 'laptop script', None)]
    assert listed[0].last_used_at is not None  # the request above was recorded
    await services.tokens.revoke(uid, new.info.id)
    assert await status_with(api, new.secret) == 401
    assert await services.tokens.list(uid) == []
    with pytest.raises(NotFound):
        await services.tokens.revoke(uid, new.info.id)  # twice: the same answer as a missing id


async def test_an_expired_token_is_refused(services: Services, api: httpx.AsyncClient) -> None:
    uid = await add_user(services, 'ada@example.com')
    new = await services.tokens.create(uid, 'ci', expires_in_days=1)
    assert new.info.expires_at is not None
    assert new.info.expires_at - utcnow() > timedelta(hours=23)
    assert await status_with(api, new.secret) == 404
    services.tokens.clock = lambda: utcnow() + timedelta(days=1, seconds=1)
    assert await status_with(api, new.secret) == 401
    assert [t.id for t in await services.tokens.list(uid)] == [new.info.id]


@pytest.mark.parametrize('sent', ['', 'ngk_', 'ngk_not-a-real-token', 'garbage', 'ngk_' + 'x' * 500])
async def test_unknown_tokens_are_refused(services: Services, api: httpx.AsyncClient, sent: str) -> None:
    await services.tokens.create(await add_user(services, 'ada@example.com'), 'real')
    assert await status_with(api, sent) == 401


async def test_the_database_holds_no_token_in_clear(services: Services) -> None:
    uid = await add_user(services, 'ada@example.com')
    secrets = [(await services.tokens.create(uid, f'token {i}')).secret for i in range(3)]

    def dump(s: object) -> str:
        rows = s.connection().execute(sa.text('SELECT * FROM api_tokens')).all()  # type: ignore[attr-defined]
        return repr(rows)
    stored = await services.db.run(dump)
    for secret in secrets:
        assert secret not in stored and secret[12:] not in stored
        assert hash_token(secret) in stored


async def test_one_user_cannot_see_or_revoke_another_users_tokens(services: Services,
                                                                 api: httpx.AsyncClient) -> None:
    ada, bob = await add_user(services, 'ada@example.com'), await add_user(services, 'bob@example.com')
    new = await services.tokens.create(ada, 'mine')
    assert await services.tokens.list(bob) == []
    with pytest.raises(NotFound, match=r'That token does not exist\.'):
        await services.tokens.revoke(bob, new.info.id)
    assert await status_with(api, new.secret) == 404  # still works for its owner


async def test_a_disabled_users_tokens_stop_working(services: Services, api: httpx.AsyncClient) -> None:
    uid = await add_user(services, 'ada@example.com')
    new = await services.tokens.create(uid, 'ci')
    assert await status_with(api, new.secret) == 404
    await services.users.set_disabled(uid, True)
    assert await status_with(api, new.secret) == 401


async def test_bad_names_and_expiries_are_refused_and_nothing_is_stored(services: Services) -> None:
    uid = await add_user(services, 'ada@example.com')
    for name, days in (('', None), ('x' * 101, None), ('ci', 0), ('ci', 9999)):
        with pytest.raises(InvalidInput):
            await services.tokens.create(uid, name, expires_in_days=days)
    assert await services.tokens.list(uid) == []


async def test_last_used_is_written_at_most_once_a_minute(services: Services) -> None:
    uid = await add_user(services, 'ada@example.com')
    tokens = TokenService(services.db)
    new = await tokens.create(uid, 'ci')
    assert (await tokens.lookup(new.secret)) is not None
    first = (await tokens.list(uid))[0].last_used_at
    assert first is not None
    assert (await tokens.lookup(new.secret)) is not None
    assert (await tokens.list(uid))[0].last_used_at == first
    tokens.clock = lambda: utcnow() + timedelta(minutes=2)
    await tokens.lookup(new.secret)
    later = (await tokens.list(uid))[0].last_used_at
    assert later is not None and later > first
