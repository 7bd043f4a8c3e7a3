"""The session cookie: signed, HttpOnly, SameSite=Lax, Secure over HTTPS (also behind a proxy), and it expires."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from nanogen.accounts.guard import AuthMiddleware
from nanogen.accounts.sessions import SecureCookies, session_options
from nanogen.bootstrap import Services
from nanogen.config import Settings
from nanogen.http.errors import install_error_handlers
from nanogen.http.files import build_files_router
from nanogen.http.signin import build_signin_router


def app_like(services: Services) -> FastAPI:
    """The stack app.py builds: guard inside the session, SecureCookies outside it."""
    api = FastAPI()
    api.add_middleware(AuthMiddleware, auth=services.auth)
    api.add_middleware(SessionMiddleware, **session_options(services.settings, services.secret_key))
    api.add_middleware(SecureCookies)
    install_error_handlers(api)
    api.include_router(build_signin_router(services))
    api.include_router(build_files_router(services))
    return api


async def sign_in_locally(client: httpx.AsyncClient, services: Services) -> httpx.Response:
    assert services.local_sign_in is not None
    ticket = services.local_sign_in.ticket('Ada', 'ada@example.com')
    response = await client.get('/auth/local', params={'t': ticket, 'redirect_to': '/generator'})
    assert response.status_code == 303 and response.headers['location'] == '/generator'
    return response


async def guarded_status(client: httpx.AsyncClient) -> int:
    return (await client.get('/files/999999/image', headers={'Accept': 'application/json'})).status_code


async def test_cookie_flags_over_http(make_services, isolated_env: Path) -> None:
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env), NANOGEN_SESSION_MAX_AGE=3600))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_like(services)),
                                 base_url='http://testserver') as client:
        cookie = (await sign_in_locally(client, services)).headers['set-cookie'].lower()
        assert cookie.startswith('session=') and 'httponly' in cookie and 'samesite=lax' in cookie
        assert 'max-age=3600' in cookie and 'secure' not in cookie.split(';', 1)[1]
        assert await guarded_status(client) == 404


async def test_cookie_is_secure_when_the_request_came_over_https(make_services, isolated_env: Path) -> None:
    """Behind a TLS proxy uvicorn reports scheme https (from a trusted X-Forwarded-Proto): the cookie is Secure."""
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_like(services)),
                                 base_url='https://testserver') as client:
        cookie = (await sign_in_locally(client, services)).headers['set-cookie'].lower()
        assert '; secure' in cookie and 'httponly' in cookie


def test_an_https_public_url_marks_the_cookie_secure_always(isolated_env: Path) -> None:
    secure = session_options(Settings(NANOGEN_PUBLIC_URL='https://studio.acme.com/'), 'k')
    plain = session_options(Settings(NANOGEN_PUBLIC_URL='http://localhost:8080'), 'k')
    assert secure['https_only'] is True and plain['https_only'] is False
    assert secure['same_site'] == 'lax' and secure['max_age'] == 14 * 24 * 3600


async def test_a_session_expires_after_the_configured_age(make_services, isolated_env: Path) -> None:
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env), NANOGEN_SESSION_MAX_AGE=1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_like(services)),
                                 base_url='http://testserver') as client:
        await sign_in_locally(client, services)
        assert await guarded_status(client) == 404
        await asyncio.sleep(2.2)
        assert await guarded_status(client) == 401


async def test_a_tampered_cookie_is_not_a_session(make_services, isolated_env: Path) -> None:
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_like(services)),
                                 base_url='http://testserver') as client:
        await sign_in_locally(client, services)
        value = client.cookies['session']
        client.cookies.set('session', value[:-3] + ('AAA' if not value.endswith('AAA') else 'BBB'))
        assert await guarded_status(client) == 401


async def test_sign_out_everywhere_ends_every_session_at_once(make_services, isolated_env: Path) -> None:
    services = await make_services(Settings(NANOGEN_DATA_DIR=str(isolated_env)))
    web = app_like(services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url='http://testserver') as laptop, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url='http://testserver') as phone:
        await sign_in_locally(laptop, services)
        await sign_in_locally(phone, services)
        assert await guarded_status(laptop) == await guarded_status(phone) == 404
        user = await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com')
        await services.users.sign_out_everywhere(user.id)
        assert await guarded_status(laptop) == await guarded_status(phone) == 401  # no wait for the cache
        await sign_in_locally(phone, services)
        assert await guarded_status(phone) == 404
