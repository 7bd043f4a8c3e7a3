"""Helpers for the REST API tests: users with personal API tokens, authenticated clients, waiting for prompts."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
from nicegui.testing import User

from nanogen.bootstrap import Services


@dataclass
class ApiUser:
    id: int
    token: str
    client: httpx.AsyncClient  # over the app's ASGI transport, with this user's token

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.client.get(url, **kw)


def app_services() -> Services:
    """The services of the app the `user` fixture loaded (app.py itself must not be imported)."""
    from nicegui import app  # create_app keeps them there; pages get only the Studio facade
    return cast(Services, app.state.services)


async def make_token(services: Services, email: str, name: str = 'script') -> tuple[int, str]:
    user = await services.users.sign_in(subject=f'local:{email}', email=email, name=email.split('@')[0])
    assert user.id is not None
    token = (await services.tokens.create(user.id, name)).secret  # the real token service, as the profile page
    return user.id, token


async def api_user(user: User, email: str = 'ada@example.com') -> ApiUser:
    uid, token = await make_token(app_services(), email)
    transport = user.http_client._transport  # the same in-process app, without the fixture's cookies
    client = httpx.AsyncClient(transport=transport, base_url='http://test',
                               headers={'Authorization': f'Bearer {token}'})
    return ApiUser(id=uid, token=token, client=client)


async def wait_finished(api: ApiUser, prompt_id: int, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await api.get(f'/api/v1/prompts/{prompt_id}')
        assert r.status_code == 200, r.text
        data = r.json()['data']
        if data['status'] in ('COMPLETED', 'FAILED', 'CANCELLED'):
            return data
        await asyncio.sleep(0.1)
    raise AssertionError(f'prompt {prompt_id} did not finish in {timeout} s')


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    """The envelope's error, after checking the status and the envelope's shape."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body['success'] is False and body['data'] is None, body
    assert body['error']['code'] and body['error']['message'], body
    assert 'Traceback' not in r.text
    return body['error']


async def prompt_count() -> int:
    from sqlmodel import func, select

    from nanogen.models import Prompt
    return int(await app_services().db.run(lambda s: s.exec(select(func.count()).select_from(Prompt)).one()))
