"""OpenID providers for sign-in tests: oidc-provider-mock over real HTTP, and a forging provider we sign for."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import werkzeug.serving
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from nanogen.accounts.guard import AuthMiddleware
from nanogen.bootstrap import Services
from nanogen.http import routers
from nanogen.http.errors import install_error_handlers

CLIENT_ID = 'nanogen-test-client'
CLIENT_SECRET = 'nanogen-test-secret-value'


def guarded_app(services: Services) -> FastAPI:
    """The middleware stack and plain routes app.py builds (session outside the guard), without NiceGUI pages."""
    api = FastAPI()
    api.add_middleware(AuthMiddleware, auth=services.auth)
    api.add_middleware(SessionMiddleware, secret_key=services.secret_key, same_site='lax')
    install_error_handlers(api)
    for router in routers(services):
        api.include_router(router)
    return api


@contextmanager
def serve_oidc_mock(host: str = '127.0.0.1') -> Iterator[str]:
    """oidc-provider-mock (a Flask app) on a free port in a thread; yields its issuer URL.

    Needs AUTHLIB_INSECURE_TRANSPORT=1 in the environment (plain http).
    """
    import oidc_provider_mock

    server = werkzeug.serving.make_server(host, 0, oidc_provider_mock.app(require_nonce=True), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield f'http://{host}:{server.server_port}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def set_claims(issuer: str, sub: str, **claims: Any) -> None:
    """Choose the claims the mock puts in the ID token of `sub` (its PUT /users/<sub> API)."""
    response = httpx.put(f'{issuer}/users/{sub}', json=claims)
    assert response.status_code == 204, response.text


def google_claims(email: str, *, verified: bool = True, name: str = 'Ada Lovelace', **extra: Any) -> dict[str, Any]:
    return {'email': email, 'email_verified': verified, 'name': name,
            'picture': 'https://example.com/ada.png', **extra}


class ForgingProvider:
    """A tiny OpenID provider whose token endpoint answers with whatever ID token a test asks for.

    `mode`: 'ok' | 'forged' (signed with a key not in the JWKS) | 'expired' | 'wrong_audience' | 'wrong_issuer' |
    'wrong_nonce' | 'unsigned'.
    """

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={'kid': 'real'})
        self.other_key = RSAKey.generate_key(2048, parameters={'kid': 'real'})  # same kid: a real forgery attempt
        self.mode = 'ok'
        self.claims: dict[str, Any] = google_claims('ada@example.com')
        self.issuer = ''
        self._nonces: dict[str, str] = {}
        self.app = Starlette(routes=[
            Route('/.well-known/openid-configuration', self._discovery),
            Route('/jwks', self._jwks),
            Route('/authorize', self._authorize),
            Route('/token', self._token, methods=['POST']),
        ])

    async def _discovery(self, _request: Request) -> JSONResponse:
        return JSONResponse({
            'issuer': self.issuer, 'authorization_endpoint': f'{self.issuer}/authorize',
            'token_endpoint': f'{self.issuer}/token', 'jwks_uri': f'{self.issuer}/jwks',
            'response_types_supported': ['code'], 'subject_types_supported': ['public'],
            'id_token_signing_alg_values_supported': ['RS256']})

    async def _jwks(self, _request: Request) -> JSONResponse:
        return JSONResponse({'keys': [self.key.as_dict(private=False)]})

    async def _authorize(self, request: Request) -> RedirectResponse:
        """Consent is implied: straight back to the client with a code."""
        code = uuid.uuid4().hex
        self._nonces[code] = request.query_params.get('nonce', '')
        query = urlencode({'code': code, 'state': request.query_params.get('state', '')})
        return RedirectResponse(f'{request.query_params["redirect_uri"]}?{query}', status_code=302)

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        nonce = self._nonces.pop(str(form.get('code')), '')
        now = int(time.time())
        claims = {'iss': self.issuer, 'sub': 'forging-sub-1', 'aud': CLIENT_ID, 'iat': now, 'exp': now + 600,
                  'nonce': nonce, **self.claims}
        key = self.key
        if self.mode == 'forged':
            key = self.other_key
        elif self.mode == 'expired':
            claims.update(iat=now - 7200, exp=now - 3600)
        elif self.mode == 'wrong_audience':
            claims['aud'] = 'someone-else'
        elif self.mode == 'wrong_issuer':
            claims['iss'] = 'https://evil.example'
        elif self.mode == 'wrong_nonce':
            claims['nonce'] = 'not-the-nonce'
        if self.mode == 'unsigned':
            def b64(data: dict[str, Any]) -> str:
                return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b'=').decode()
            id_token = f"{b64({'alg': 'none'})}.{b64(claims)}."
        else:
            id_token = jwt.encode({'alg': 'RS256', 'kid': 'real'}, claims, key)
        return JSONResponse({'access_token': uuid.uuid4().hex, 'token_type': 'Bearer', 'expires_in': 600,
                             'id_token': id_token})
