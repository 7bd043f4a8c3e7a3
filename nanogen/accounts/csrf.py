"""Cross-site request forgery: is an unsafe, cookie-authenticated request coming from one of our own pages?"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

UNSAFE_METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
SAME_SITE_FETCH = frozenset({'same-origin', 'none'})  # 'none': typed in the address bar, a bookmark


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f'{parts.scheme}://{parts.netloc}'.lower() if parts.scheme and parts.netloc else ''


def own_origins(scope: dict[str, Any], headers: dict[str, str], public_url: str) -> set[str]:
    """This app's origin as the browser sees it: the request's scheme and Host (uvicorn has applied the proxy's
    X-Forwarded-Proto), and NANOGEN_PUBLIC_URL when set."""
    origins = {_origin(public_url)} if public_url else set()
    host = headers.get('host')
    if host:
        origins.add(f"{scope.get('scheme', 'http')}://{host}".lower())
    origins.discard('')
    return origins


def is_cross_site(scope: dict[str, Any], headers: dict[str, str], public_url: str) -> bool:
    """True when a browser tells us an unsafe request came from another site. Browsers send Sec-Fetch-Site
    (modern ones) and Origin (on every POST) and pages cannot forge either; a client that sends neither is not a
    browser acting for someone else, so it passes (it could present the cookie directly anyway)."""
    if scope.get('method', 'GET').upper() not in UNSAFE_METHODS:
        return False
    fetch_site = headers.get('sec-fetch-site')
    if fetch_site is not None and fetch_site.lower() not in SAME_SITE_FETCH:
        return True
    origin = headers.get('origin')
    if origin is not None:
        return origin.lower() not in own_origins(scope, headers, public_url)  # 'null' (sandboxed) is never ours
    return False
