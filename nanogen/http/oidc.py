"""Sign-in with Google, or any OpenID Connect provider: the redirect, the verified callback, and who may enter."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from authlib.deprecate import AuthlibDeprecationWarning

# authlib's Starlette client imports its own (deprecated) httpx module; we use only its OIDC flow, not that
# module, so keep the warning off the operator's console.
warnings.filterwarnings('ignore', category=AuthlibDeprecationWarning)
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import JoseError

from nanogen.accounts.groups import GroupService
from nanogen.accounts.guard import SessionAuth, safe_redirect
from nanogen.accounts.signin_messages import (
    DENIED_MESSAGE,
    NO_EMAIL_MESSAGE,
    STATE_MESSAGE,
    TOKEN_MESSAGE,
    UNREACHABLE_MESSAGE,
    UNVERIFIED_MESSAGE,
    domain_message,
)
from nanogen.accounts.users import UserService
from nanogen.config import Settings
from nanogen.errors import AuthError

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)
NEXT_KEY = 'oidc_next'  # where to go after the callback; kept in the signed session, never in the URL


@dataclass(frozen=True)
class Profile:
    """The claims nanogen keeps from a verified ID token."""

    subject: str
    email: str
    name: str
    avatar_url: str
    groups: tuple[str, ...] | None = None  # the NANOGEN_OIDC_GROUPS_CLAIM values; None: the claim is not mapped

def check_claims(claims: Mapping[str, Any], settings: Settings) -> Profile:
    """Who may enter, from claims whose signature, issuer, audience, expiry and nonce are already verified."""
    subject = str(claims.get('sub') or '')
    email = str(claims.get('email') or '').strip().lower()
    if not subject or '@' not in email:
        raise AuthError(NO_EMAIL_MESSAGE)
    verified = claims.get('email_verified')
    if verified is not True and str(verified).lower() != 'true':  # some providers send the string "true"
        raise AuthError(UNVERIFIED_MESSAGE)
    allowed = settings.allowed_domain_list
    if allowed:
        domain = email.rsplit('@', 1)[1]
        hosted = str(claims.get('hd') or '').lower()  # Google Workspace's hosted domain, when present
        if domain not in allowed or (hosted and hosted not in allowed):
            raise AuthError(domain_message(allowed))
    return Profile(subject=subject, email=email, name=str(claims.get('name') or '')[:255],
                   avatar_url=str(claims.get('picture') or '')[:1024], groups=groups_claim(claims, settings))


def groups_claim(claims: Mapping[str, Any], settings: Settings) -> tuple[str, ...] | None:
    """The group names in the configured claim (a list, or one string), or None when no claim is configured."""
    if not settings.oidc_groups_claim:
        return None
    raw = claims.get(settings.oidc_groups_claim)
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return tuple(str(v)[:255] for v in values if isinstance(v, (str, int)))[:200]


class OidcSignIn:
    """The OpenID Connect client (authlib's Starlette integration; it keeps state and nonce in request.session)."""

    def __init__(self, settings: Settings, users: UserService, auth: SessionAuth,
                 groups: GroupService | None = None) -> None:
        self.settings = settings
        self.groups = groups
        self.users = users
        self.auth = auth
        self.oauth = OAuth()
        self.client: Any = self.oauth.register(
            'oidc', client_id=settings.google_client_id, client_secret=settings.google_client_secret,
            server_metadata_url=settings.oidc_metadata_url,
            client_kwargs={'scope': 'openid email profile', 'timeout': 15})

    def callback_url(self, request: Request) -> str:
        if self.settings.public_url:  # behind a proxy, the app's own idea of its URL may be wrong
            return f'{self.settings.public_url}/auth/oidc/callback'
        return str(request.url_for('oidc_callback'))

    async def begin(self, request: Request, redirect_to: str | None) -> Response:
        request.session[NEXT_KEY] = safe_redirect(redirect_to)
        try:
            return await self.client.authorize_redirect(request, self.callback_url(request))  # type: ignore[no-any-return]
        except (httpx.HTTPError, OAuthError, ValueError, KeyError, RuntimeError) as exc:
            log.warning('OIDC discovery failed: %s', type(exc).__name__)
            return _back_to_login(UNREACHABLE_MESSAGE, request.session.get(NEXT_KEY))

    async def complete(self, request: Request) -> Response:
        target = safe_redirect(request.session.pop(NEXT_KEY, None))
        try:
            profile = await self._verified_profile(request)
            user = await self.users.sign_in(subject=profile.subject, email=profile.email, name=profile.name,
                                            avatar_url=profile.avatar_url)
        except AuthError as exc:
            log.warning('OIDC sign-in refused: %s', exc.detail or exc.user_message)
            return _back_to_login(exc.user_message, target)
        if profile.groups is not None and self.groups is not None and user.id is not None:
            await self.groups.sync_from_claim(user.id, profile.groups)
        await self.auth.log_in(request.session, user)
        log.info('user %s signed in with OIDC', user.id)
        return RedirectResponse(target, status_code=303)

    async def _verified_profile(self, request: Request) -> Profile:
        error = request.query_params.get('error')
        if error:
            raise AuthError(DENIED_MESSAGE, detail=f'provider error {error[:50]}')
        try:
            token = await self.client.authorize_access_token(request)
        except MismatchingStateError:
            raise AuthError(STATE_MESSAGE, detail='state mismatch') from None
        except httpx.HTTPError as exc:
            raise AuthError(UNREACHABLE_MESSAGE, detail=type(exc).__name__) from None
        except (OAuthError, JoseError, ValueError, KeyError, TypeError) as exc:
            # Forged or expired ID tokens, wrong issuer/audience/nonce, a refused code: never say more to the page.
            raise AuthError(TOKEN_MESSAGE, detail=f'token rejected: {type(exc).__name__}') from None
        claims = token.get('userinfo')
        if not claims:  # no ID token: the provider is not speaking OpenID Connect
            raise AuthError(TOKEN_MESSAGE, detail='no id_token in the token response')
        return check_claims(claims, self.settings)


def _back_to_login(message: str, target: str | None) -> Response:
    url = f'/login?error={quote(message, safe="")}&redirect_to={quote(safe_redirect(target), safe="")}'
    return RedirectResponse(url, status_code=303)


def build_oidc_router(services: Services) -> APIRouter:
    """/auth/oidc/login and /auth/oidc/callback; without a configured client both send people to /login."""
    router = APIRouter(include_in_schema=False)
    oidc = OidcSignIn(services.settings, services.users, services.auth, services.groups) \
        if services.settings.oidc_enabled else None
    services.extras['oidc'] = oidc

    @router.get('/auth/oidc/login')
    async def oidc_login(request: Request, redirect_to: str = '/dashboard') -> Response:
        if oidc is None:
            return RedirectResponse('/login', status_code=303)
        return await oidc.begin(request, redirect_to)

    @router.get('/auth/oidc/callback', name='oidc_callback')
    async def oidc_callback(request: Request) -> Response:
        if oidc is None:
            return RedirectResponse('/login', status_code=303)
        return await oidc.complete(request)

    return router
