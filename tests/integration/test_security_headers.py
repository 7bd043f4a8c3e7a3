"""Issue 11 finding 1 (second line of defence): every response carries the CSP and the framing/sniffing headers,
and Swagger UI loads nothing from a CDN."""

from __future__ import annotations

import re

import nicegui
from nicegui.testing import User

from tests.ui.helpers import sign_in

EXPECTED = {'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin'}


def directives(csp: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in csp.split(';') if part.strip())}


def assert_secured(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.url, name, response.headers.get(name))
    csp = directives(response.headers['content-security-policy'])
    assert csp['frame-ancestors'] == ["'none'"] and csp['object-src'] == ["'none'"]
    assert csp['base-uri'] == ["'self'"] and csp['connect-src'] == ["'self'"]
    assert csp['script-src'][0] == "'self'" and not any(s.startswith(('http', '*')) for s in csp['script-src'])
    assert {"'self'", 'data:', 'blob:'} <= set(csp['img-src'])
    return csp


async def test_pages_api_files_and_assets_all_carry_the_headers(user: User) -> None:
    """Issue 11 finding 1: the CSP, X-Frame-Options, nosniff and Referrer-Policy are on every kind of answer."""
    paths = ['/', '/login', '/s/garbage', '/healthz', '/api/v1/me', '/files/1/image',
             f'/_nicegui/{nicegui.__version__}/static/nicegui.js', '/no-such-page']
    for path in paths:
        response = await user.http_client.get(path)
        csp = assert_secured(response)
        assert "'unsafe-eval'" in csp['script-src']  # NiceGUI needs it (see nanogen/http/headers.py)
    page = await user.http_client.get('/login')
    assert page.status_code == 200


async def test_swagger_ui_is_served_from_local_files_under_a_stricter_csp(user: User) -> None:
    """Issue 11 finding 1: /api/docs pins Swagger UI by serving it ourselves; nothing loads from a CDN."""
    await sign_in(user, then='/dashboard')
    page = await user.http_client.get('/api/docs')
    assert page.status_code == 200
    csp = assert_secured(page)
    assert "'unsafe-eval'" not in csp['script-src']
    urls = re.findall(r'(?:src|href)=["\']([^"\']+)', page.text) + re.findall(r"url: *['\"]([^'\"]+)", page.text)
    assert urls and all(u.startswith('/') for u in urls), urls
    for asset in ('/api/docs/assets/swagger-ui-bundle.js', '/api/docs/assets/swagger-ui.css',
                  '/api/docs/assets/favicon.png'):
        assert asset in page.text
        response = await user.http_client.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000, asset
        assert_secured(response)
    assert 'SwaggerUIBundle' in (await user.http_client.get('/api/docs/assets/swagger-ui-bundle.js')).text
    assert (await user.http_client.get('/api/docs/assets/..%2Fcore.py')).status_code == 404
    assert (await user.http_client.get('/api/docs/assets/redoc.standalone.js')).status_code == 404
