"""Security headers on every HTTP response: a Content-Security-Policy, no framing, no sniffing, same-origin referrers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from nanogen.config import Settings

DOCS_PREFIX = '/api/docs'


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f'{parts.scheme}://{parts.netloc}' if parts.scheme and parts.netloc else ''


def image_origins(settings: Settings) -> list[str]:
    """Where the browser may load images from besides us: the bucket's presigned URLs and its public URL.

    boto3 may address the bucket by path (`endpoint/bucket/key`) or as a sub-domain (`bucket.endpoint/key`),
    so both the endpoint's origin and its sub-domains are allowed."""
    origins: list[str] = []
    if settings.s3_enabled:
        endpoint = urlsplit(settings.s3_endpoint)
        if endpoint.scheme and endpoint.netloc:
            origins += [f'{endpoint.scheme}://{endpoint.netloc}', f'{endpoint.scheme}://*.{endpoint.netloc}']
    if settings.r2_public_url and _origin(settings.r2_public_url):
        origins.append(_origin(settings.r2_public_url))
    return origins


def content_security_policy(settings: Settings, *, docs: bool = False) -> str:
    """The CSP for NiceGUI pages (or, with docs=True, for the Swagger UI page and its local assets).

    What NiceGUI 3.18 needs, and why it is more than 'self':
    - script-src 'unsafe-inline': its page template carries inline scripts that embed the page's elements as
      data (different on every render, so no hash fits) and the template has no nonce hook.
    - script-src 'unsafe-eval': Vue compiles component templates at run time, NiceGUI evaluates `:prop` values
      with `new Function`, and `ui.run_javascript` / `js_handler` use `eval`. Without it no page renders.
    - style-src 'unsafe-inline': Quasar, Tailwind's in-browser compiler and element `style` attributes.
    These make the CSP a second line only: the first is that user text never becomes a prop name or code
    (pages/_text.py). What the CSP still stops: loading script, frames, plugins or a <base> from anywhere else,
    sending data to other hosts (connect-src 'self'), and being framed (clickjacking).
    Swagger UI (docs=True) runs from local files with one inline start-up script, so it gets no 'unsafe-eval'.
    """
    scripts = "'self' 'unsafe-inline'" if docs else "'self' 'unsafe-inline' 'unsafe-eval'"
    images = ' '.join(["'self'", 'data:', 'blob:', *image_origins(settings)])
    return '; '.join([
        "default-src 'self'",
        f'script-src {scripts}',
        "style-src 'self' 'unsafe-inline'",
        f'img-src {images}',
        "font-src 'self' data:",
        "connect-src 'self'",  # CSP Level 3: 'self' also matches ws:/wss: to this host (NiceGUI's socket.io)
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ])


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response (pages, API, files, NiceGUI's own assets), unless a route set one."""

    def __init__(self, app: Any, *, settings: Settings) -> None:
        self.app = app
        common = [(b'x-frame-options', b'DENY'), (b'x-content-type-options', b'nosniff'),
                  # same-origin, not no-referrer: our own redirects and share links still see where a visitor
                  # came from inside the app, while another site never learns a share token from the Referer.
                  (b'referrer-policy', b'same-origin')]
        self.page_headers = [(b'content-security-policy', content_security_policy(settings).encode()), *common]
        self.docs_headers = [(b'content-security-policy',
                              content_security_policy(settings, docs=True).encode()), *common]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        extra = self.docs_headers if scope.get('path', '').startswith(DOCS_PREFIX) else self.page_headers

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message['type'] == 'http.response.start':
                headers = list(message.get('headers', []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, 'headers': headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
