"""The HTTP edge over the real app: body limits, provider callbacks, CSRF, NiceGUI's upload route."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from nicegui import ui
from nicegui.testing import User
from PIL import Image as PILImage

from tests.integration.api_support import api_user, app_services, error_of, prompt_count
from tests.ui.helpers import eventually, sign_in

UPLOAD = '/api/v1/images/generate/upload'
EVIL = 'https://evil.example'


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    PILImage.new('RGB', (width, height), (200, 40, 40)).save(out, format='PNG')
    return out.getvalue()


def anonymous(user: User) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=user.http_client._transport, base_url='http://test')


def callback_path(prompt_id: int = 1) -> str:
    url = app_services().generation.callback_url(prompt_id)
    return url[url.index('/api/provider/callback/'):]


# ------------------------------------------------------------------ finding 5: provider callbacks
async def test_a_bad_callback_token_is_refused_before_the_body_is_read(user: User) -> None:
    """Issue 11 finding 5: the token is checked first: a stranger's garbage body gets 403, not a parse attempt."""
    async with anonymous(user) as client:
        r = await client.post('/api/provider/callback/not-a-token', content=b'{{{ not json',
                              headers={'content-type': 'application/json'})
        assert error_of(r, 403)['message'] == 'Invalid callback token.'


async def test_an_oversized_callback_is_413_with_or_without_a_length(user: User) -> None:
    """Issue 11 finding 5: callbacks are bounded (256 KiB), also when the body is sent chunked without a length."""
    big = b'{"data": "' + b'x' * (300 * 1024) + b'"}'

    async def chunks():
        for i in range(0, len(big), 64 * 1024):
            yield big[i:i + 64 * 1024]
    async with anonymous(user) as client:
        r = await client.post(callback_path(), content=big, headers={'content-type': 'application/json'})
        assert error_of(r, 413)['code'] == 'payload_too_large'
        r = await client.post(callback_path(), content=chunks(), headers={'content-type': 'application/json'})
        assert error_of(r, 413)['code'] == 'payload_too_large'


async def test_deeply_nested_callback_json_is_400_not_500(user: User) -> None:
    """Issue 11 finding 5: nesting is capped (32 levels) before json.loads could raise RecursionError."""
    async with anonymous(user) as client:
        for body in (b'[' * 50_000 + b']' * 50_000, b'{"a":' * 40 + b'1' + b'}' * 40):
            r = await client.post(callback_path(), content=body, headers={'content-type': 'application/json'})
            error = error_of(r, 400)
            assert error['code'] == 'bad_callback' and 'nested' in error['message']
        ok = b'{"code": 200, "data": {"taskId": "t-1", "nested": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}}'
        r = await client.post(callback_path(), content=ok, headers={'content-type': 'application/json'})
        assert r.status_code == 404, r.text  # parsed fine (brackets in a string do not count); no such task


# ------------------------------------------------------------------ finding 7: CSRF
async def test_cross_site_unsafe_requests_with_the_session_cookie_are_refused(user: User) -> None:
    """Issue 11 finding 7: a forged multipart form (a simple request) or DELETE riding on the cookie is 403, on
    every route; the same request from our own origin, and any bearer-token request, go through."""
    await sign_in(user, email='ada@example.com')
    files = [('reference_images', ('a.png', png(), 'image/png'))]
    form = {'prompt': 'make it blue'}
    for headers in ({'Origin': EVIL}, {'Sec-Fetch-Site': 'cross-site'}, {'Sec-Fetch-Site': 'same-site'},
                    {'Origin': 'null'}):
        r = await user.http_client.post(UPLOAD, files=files, data=form, headers=headers)
        assert error_of(r, 403)['code'] == 'cross_site', headers
        r = await user.http_client.delete('/api/v1/images/1', headers=headers)
        assert error_of(r, 403)['code'] == 'cross_site', headers
    assert await prompt_count() == 0
    same = await user.http_client.post(UPLOAD, files=files, data=form,
                                       headers={'Origin': 'http://test', 'Sec-Fetch-Site': 'same-origin'})
    assert same.status_code in (201, 202), same.text
    api = await api_user(user, 'script@example.com')  # scripts send no cookie: Origin does not matter
    r = await api.client.post(UPLOAD, files=files, data=form, headers={'Origin': EVIL})
    assert r.status_code in (201, 202), r.text
    assert await prompt_count() == 2


async def test_the_public_url_counts_as_our_origin(user: User, monkeypatch) -> None:
    """Issue 11 finding 7: behind a proxy the browser's Origin is NANOGEN_PUBLIC_URL, not the internal host."""
    await sign_in(user, email='ada@example.com')
    monkeypatch.setattr(app_services().settings, 'public_url', 'https://studio.example.com')
    r = await user.http_client.delete('/api/v1/images/99', headers={'Origin': 'https://studio.example.com'})
    assert error_of(r, 404)['code'] == 'not_found'
    r = await user.http_client.delete('/api/v1/images/99', headers={'Origin': 'https://studio.example.com.evil'})
    assert error_of(r, 403)['code'] == 'cross_site'


# ------------------------------------------------------------------ finding 6: NiceGUI's upload route
async def test_nicegui_upload_route_needs_a_session_same_origin_and_a_bounded_body(user: User,
                                                                                 isolated_env: Path) -> None:
    """Issue 11 finding 6: the generator's upload route refuses anonymous and cross-site posts and bodies over
    20 MiB (413), and still takes a same-origin upload from the signed-in browser."""
    await sign_in(user, email='ada@example.com', then='/generator')
    await user.open('/generator')
    element = user.find(marker='reference-upload').elements.pop()
    assert isinstance(element, ui.upload)
    url = element.props['url']
    assert url.startswith('/_nicegui/client/')
    files = {'file': ('a.png', png(), 'image/png')}
    async with anonymous(user) as client:
        r = await client.post(url, files=files)
        assert r.status_code == 401 and not list(isolated_env.rglob('refs/*.png'))
    r = await user.http_client.post(url, files=files, headers={'Origin': EVIL})
    assert error_of(r, 403)['code'] == 'cross_site'
    big = {'file': ('big.png', b'\0' * (20 * 1024 * 1024 + 1), 'image/png')}
    r = await user.http_client.post(url, files=big, headers={'Origin': 'http://test'})
    assert error_of(r, 413)['code'] == 'payload_too_large'
    r = await user.http_client.post(url, files=files, headers={'Origin': 'http://test'})
    assert r.status_code == 200 and r.json() == {'upload': 'success'}, r.text
    await eventually(lambda: len(list(isolated_env.rglob('refs/*.png'))) == 1)  # the page's handler stored it
