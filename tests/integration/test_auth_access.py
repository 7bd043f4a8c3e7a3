"""Access control over the whole app as app.py builds it: every route refuses strangers; users never see each other.

These run with the `user` fixture, so every route NiceGUI and the other modules registered is enumerated as it
exists when the test runs (new /api/v1 routes are covered without touching this file).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from nicegui import app
from nicegui.testing import User
from starlette.routing import Mount, Route, WebSocketRoute

from nanogen.accounts.guard import is_public
from nanogen.accounts.signin_messages import STATE_MESSAGE, TOKEN_MESSAGE, UNVERIFIED_MESSAGE
from nanogen.bootstrap import Services
from nanogen.models import Image, Prompt
from tests.integration.api_support import make_token
from tests.support.library import promote_admin
from tests.ui.helpers import sign_in
from tests.ui.studio import app_services

PARAM = re.compile(r'{([^}:]+)(?::[^}]+)?}')
UNSAFE = {'POST', 'PUT', 'PATCH', 'DELETE'}
# Reviewed public routes (besides NiceGUI's own /_nicegui assets): sign-in, landing, health, shares, the provider's
# signed callback, signed reference links, a board's public link (its page, files and zip: each checks the link), and
# /metrics (which checks its own token). Adding one needs a review.
REVIEWED_PUBLIC = {'/', '/login', '/favicon.ico', '/healthz', '/readyz', '/metrics', '/auth/local', '/auth/logout',
                   '/auth/oidc/login', '/auth/oidc/callback', '/s/{token}', '/s/{token}/image',
                   '/b/{token}', '/b/{token}/files/{image_id}/{variant}', '/b/{token}/zip',
                   '/api/provider/callback/{token}', '/refs/{token}'}


def running_services() -> Services:
    return app_services()


def http_routes() -> list[tuple[str, set[str]]]:
    """(path template, methods) of every HTTP route of the running app; mounts are probed below their root."""
    found: list[tuple[str, set[str]]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            included = getattr(route, 'original_router', None)  # FastAPI >= 0.16x keeps included routers nested
            if included is not None:
                walk(included.routes, prefix + route.include_context.prefix)
            elif isinstance(route, WebSocketRoute):
                continue
            elif isinstance(route, (APIRoute, Route)):
                found.append((prefix + route.path, set(route.methods or {'GET'}) - {'HEAD', 'OPTIONS'}))
            elif isinstance(route, Mount):
                found.append((prefix + route.path.rstrip('/') + '/probe.txt', {'GET'}))
    walk(list(app.routes), '')
    return found


def fill(template: str, values: dict[str, str] | None = None) -> str:
    values = values or {}
    return PARAM.sub(lambda m: values.get(m.group(1), '1'), template)


@pytest.fixture
async def anonymous() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        yield client


async def test_every_route_refuses_anyone_without_a_session_or_token(user: User, anonymous: httpx.AsyncClient) -> None:
    routes = http_routes()
    assert len(routes) > 15  # the app really was loaded
    public = sorted({path for path, _ in routes if is_public(fill(path)) and not path.startswith('/_nicegui')})
    assert set(public) <= REVIEWED_PUBLIC, f'new public routes need a review: {set(public) - REVIEWED_PUBLIC}'
    checked = 0
    for template, methods in routes:
        path = fill(template)
        if is_public(path):
            continue
        for method in sorted(methods):
            # A browser asking for a page is sent to sign in, and comes back to the page afterwards.
            response = await anonymous.request(method, path)
            if path.startswith('/api/'):
                assert response.status_code == 401, (method, path, response.status_code)
                assert response.json()['error']['code'] == 'unauthorized'
            else:
                assert response.status_code == 303, (method, path, response.status_code)
                assert response.headers['location'].startswith('/login?redirect_to=%2F'), (method, path)
            # A script gets a 401 JSON envelope: with Accept: application/json, or with a token that is not valid.
            for headers in ({'Accept': 'application/json'}, {'Authorization': 'Bearer ngk_not-a-token'}):
                response = await anonymous.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.status_code)
                assert response.json() == {'success': False, 'data': None, 'error': {
                    'code': 'unauthorized', 'message': 'Sign in or send a valid API token.'}}
            checked += 1
    assert checked >= 20
    for page in ('/dashboard', '/generator', '/profile'):  # the pages everyone knows about are among them
        assert any(fill(t) == page for t, _ in routes)


@dataclass
class Owned:
    prompt_ids: list[int]
    image_ids: list[int]
    secret_text: str
    board_ids: list[int] = field(default_factory=list)
    link_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    user_id: int = 0


async def give_bob_images(services: Services, bob_id: int) -> Owned:
    secret = 'bobs-private-prompt-7f3a'

    def work(s: object) -> Owned:
        prompt = Prompt(user_id=bob_id, prompt=secret, status='COMPLETED', cost=Decimal('0.0125'))
        s.add(prompt)  # type: ignore[attr-defined]
        s.flush()  # type: ignore[attr-defined]
        images = [Image(user_id=bob_id, prompt_id=prompt.id, position=i, key=f'u{bob_id}/p{prompt.id}/{i}.png',
                        original_key=f'u{bob_id}/p{prompt.id}/{i}-orig.png',
                        thumb_key=f'u{bob_id}/p{prompt.id}/{i}.webp', sha256=f'{i:064d}') for i in range(2)]
        for image in images:
            s.add(image)  # type: ignore[attr-defined]
        s.flush()  # type: ignore[attr-defined]
        prompt.image_id = images[0].id
        s.add(prompt)  # type: ignore[attr-defined]
        s.commit()  # type: ignore[attr-defined]
        return Owned([prompt.id], [i.id for i in images], secret)  # type: ignore[misc]
    owned = await services.db.write(work)
    for image_id in owned.image_ids:
        image = await services.db.run(lambda s, i=image_id: s.get(Image, i))
        for key, ctype in ((image.key, 'image/png'), (image.original_key, 'image/png'), (image.thumb_key, 'image/webp')):
            await services.storage.put(key, b'\x89PNG bob only', content_type=ctype)
    board = await services.library.boards.create(bob_id, f'{secret} board', secret)  # private, but linked
    await services.library.boards.add_images(bob_id, board.id, owned.image_ids)
    link = await services.library.boards.create_link(bob_id, board.id)
    owned.board_ids.append(board.id)
    owned.link_ids.append(link.id)
    root = await services.users.sign_in(subject='local:root@example.com', email='root@example.com')
    await promote_admin(services, root.id)
    # Bob's group, which Ada is not in. Its name carries no secret: Ada is the first user, so an app admin, and the
    # admin console lists every group by name (as it should); what she must not see is Bob's work.
    group = await services.groups.create(root.id, 'Bob and root')
    await services.groups.add_member(root.id, group.id, bob_id, 'admin')
    await services.groups.set_policy(root.id, group.id, allowed_models=['nanobanana'])
    owned.group_ids.append(group.id)
    owned.user_id = bob_id
    return owned


def value_for(param: str, template: str, owned: Owned) -> str | None:
    """Bob's id for an id-like path parameter, judged by its name or the path segment before it."""
    name = param.lower()
    if 'board' in name:
        return str(owned.board_ids[0])
    if 'link' in name:
        return str(owned.link_ids[0])
    if 'group' in name:
        return str(owned.group_ids[0])
    if name == 'user_id':
        return str(owned.user_id)
    if 'image' in name or (name == 'id' and '/images/' in template):
        return str(owned.image_ids[0])
    if 'prompt' in name or 'generation' in name or (name == 'id' and ('/prompts/' in template
                                                                       or '/generations/' in template)):
        return str(owned.prompt_ids[0])
    return None


async def test_a_user_gets_404_for_every_one_of_another_users_prompts_images_and_files(
        user: User, create_user) -> None:
    bob = create_user()
    await sign_in(user, name='Ada', email='ada@example.com')
    await sign_in(bob, name='Bob', email='bob@example.com')
    services = running_services()
    bob_row = await services.users.sign_in(subject='local:bob@example.com', email='bob@example.com')
    owned = await give_bob_images(services, bob_row.id)
    ada, bobs = user.http_client, bob.http_client

    # Files by URL: Bob gets his own (the control); Ada gets the same 404 as for an id that does not exist.
    for image_id in owned.image_ids:
        for variant in ('image', 'original', 'thumb'):
            url = f'/files/{image_id}/{variant}'
            assert (await bobs.get(url)).status_code == 200, url
            for headers in ({}, {'Accept': 'application/json'}):
                response = await ada.get(url, headers=headers)
                missing = await ada.get(f'/files/99999{image_id}/{variant}', headers=headers)
                assert response.status_code == missing.status_code == 404, (url, response.status_code)
                assert response.json() == missing.json()
                assert b'bob only' not in response.content

    # Every /api/v1 route with an id of a prompt or image, whatever methods it has, as Ada with Bob's ids. Ada is the
    # first user, so an app admin; the groups admin API is asked by Eve instead (no admin, not in Bob's group).
    _eve_id, eve_token = await make_token(services, 'eve@example.com')
    eve = httpx.AsyncClient(transport=ada._transport, base_url='http://test',
                            headers={'Authorization': f'Bearer {eve_token}'})
    api_checked = []
    for template, methods in http_routes():
        params = PARAM.findall(template)
        if not template.startswith('/api/v1') or not params:
            continue
        values = {p: value_for(p, template, owned) for p in params}
        if any(v is None for v in values.values()):
            continue
        url = fill(template, values)  # type: ignore[arg-type]
        for method in sorted(methods):
            asker = eve if template.startswith('/api/v1/groups') else ada
            response = await asker.request(method, url, json={} if method in UNSAFE - {'DELETE'} else None)
            # The groups admin API answers 403 to anyone not an app admin (nor the group's admin), whatever the id.
            allowed = (403, 404) if template.startswith('/api/v1/groups') else (404,)
            assert response.status_code in (allowed if method in ('GET', 'DELETE') else (*allowed, 422)), (
                method, url, response.status_code, response.text[:200])
            assert owned.secret_text not in response.text
            api_checked.append((method, template))
    await eve.aclose()
    assert any(t.startswith('/api/v1/groups/') for _, t in api_checked)
    if any(t.startswith('/api/v1') and PARAM.search(t) for t, _ in http_routes()):
        assert api_checked, 'the /api/v1 id routes were not recognised: teach value_for() their parameter names'

    # Every page, asked with Bob's ids in every id-like query parameter, shows none of Bob's work.
    query = f'?image={owned.image_ids[0]}&image_id={owned.image_ids[0]}&prompt_id={owned.prompt_ids[0]}' \
            f'&id={owned.prompt_ids[0]}'
    for template, methods in http_routes():
        if 'GET' not in methods or PARAM.search(template) or is_public(template) or template.startswith('/api/') \
                or template.startswith('/files') or template.endswith(('.csv', '.zip')):
            continue
        response = await ada.get(template + query, follow_redirects=True)
        assert response.status_code in (200, 404), (template, response.status_code)
        assert owned.secret_text not in response.text, template
    zipped = await ada.get(f'/files/zip?ids={owned.image_ids[0]}', headers={'Accept': 'application/json'})
    assert zipped.status_code == 404 and b'bob only' not in zipped.content
    board = owned.board_ids[0]
    zipped = await ada.get(f'/boards/{board}/zip?ids={owned.image_ids[0]}', headers={'Accept': 'application/json'})
    assert zipped.status_code == 404 and b'bob only' not in zipped.content
    page = await ada.get(f'/boards/{board}', follow_redirects=True)  # Bob's private board page
    assert page.status_code in (200, 404) and owned.secret_text not in page.text
    assert (await bobs.get(f'/boards/{board}/zip?ids={owned.image_ids[0]}')).status_code == 200  # the control

    # Nothing Ada tried changed Bob's things.
    for image_id in owned.image_ids:
        assert (await bobs.get(f'/files/{image_id}/image')).status_code == 200
    assert (await services.db.run(lambda s: s.get(Prompt, owned.prompt_ids[0]))) is not None


@pytest.mark.parametrize('message', [UNVERIFIED_MESSAGE, STATE_MESSAGE, TOKEN_MESSAGE,
                                     'Your account is disabled. Ask an admin to enable it.',
                                     'Only accounts from acme.com can sign in here. Sign in with your work account.'])
async def test_a_refused_sign_in_shows_its_message_on_the_login_page(user: User, message: str) -> None:
    """The refusals of tests/integration/test_auth_oidc.py redirect here; this is what the person then sees."""
    await user.open(f'/login?error={quote(message, safe="")}&redirect_to=%2Fhistory')
    await user.should_see(message)
    await user.should_see('Sign in to nanogen')


async def test_the_login_page_shows_no_text_of_a_strangers_choosing(user: User) -> None:
    """A crafted link cannot put its own words on our sign-in page: unknown messages become a generic line."""
    await user.open(f'/login?error={quote("Your account is locked: call +1 555 0100 now", safe="")}')
    await user.should_not_see('call +1 555 0100')
    await user.should_see('Sign-in did not complete. Please try again.')
