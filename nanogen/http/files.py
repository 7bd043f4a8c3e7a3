"""Plain HTTP routes beside the pages: provider callbacks, guarded image files, sign-in hand-offs, health."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response

from nanogen.accounts.guard import Identity, safe_redirect
from nanogen.errors import AuthError, NanogenError, NotFound, ProviderBadResponse
from nanogen.accounts.ratelimit import MAX_JSON_DEPTH, JsonTooDeep, parse_json
from nanogen.generation.requests import parse_id

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

log = logging.getLogger(__name__)
READY_CACHE_S = 2.0  # /readyz is public: a flood of probes costs one check per replica every 2 s


def envelope_error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    error: dict[str, Any] = {'code': code, 'message': message, **extra}
    headers = {}
    if 'retry_after' in extra:
        headers['Retry-After'] = str(max(1, int(extra['retry_after'])))
    return JSONResponse({'success': False, 'data': None, 'error': error}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every failure becomes a JSON envelope with a 4xx (or 5xx for our own faults), never a stack trace."""

    @app.exception_handler(NanogenError)
    async def _nanogen_error(_request: Request, exc: NanogenError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if getattr(exc, 'field', None):
            extra['field'] = exc.field  # type: ignore[attr-defined]
        if hasattr(exc, 'retry_after'):
            extra['retry_after'] = exc.retry_after  # type: ignore[attr-defined]
        return envelope_error(exc.http_status, exc.code, exc.user_message, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get('loc', ()) if p not in ('body', 'query', 'path')]
        field = '.'.join(loc) or None
        message = f"{field}: {first.get('msg', 'invalid value')}" if field else str(first.get('msg', 'Invalid request.'))
        details = [{'field': '.'.join(str(p) for p in e.get('loc', ()) if p not in ('body', 'query', 'path')),
                    'message': e.get('msg', '')} for e in errors]
        return envelope_error(422, 'invalid_input', message, field=field, details=details)


def current_identity(request: Request) -> Identity:
    identity = getattr(request.state, 'identity', None)
    if identity is None:
        raise AuthError('Sign in or send a valid API token.')
    return identity


async def dependency_checks(services: Services) -> dict[str, str]:
    """What this replica needs to serve: its database and its storage ('ok' or 'unreachable' each)."""
    checks: dict[str, str] = {}
    try:
        await services.db.run(lambda s: s.connection().exec_driver_sql('SELECT 1'))
        checks['database'] = 'ok'
    except Exception:
        checks['database'] = 'unreachable'
    try:
        await services.storage.ping()
        checks['storage'] = 'ok'
    except Exception:
        checks['storage'] = 'unreachable'
    return checks


def build_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post('/api/provider/callback/{token}')
    async def provider_callback(token: str, request: Request) -> JSONResponse:
        # The token first: a stranger's request is refused before its body is read. BodyLimitMiddleware has
        # already refused anything over MAX_CALLBACK_BYTES, so the read below is bounded.
        try:
            services.generation.callback_prompt_id(token)
        except AuthError as exc:
            return envelope_error(403, exc.code, exc.user_message)
        try:
            body = parse_json(await request.body())
        except JsonTooDeep:
            return envelope_error(400, 'bad_callback', f'The callback body is nested too deeply (over '
                                  f'{MAX_JSON_DEPTH} levels).')
        except ValueError:
            return envelope_error(400, 'bad_callback', 'The callback body is not JSON.')
        try:
            await services.generation.handle_callback(token, body)
        except (AuthError, NotFound, ProviderBadResponse) as exc:
            status = 404 if isinstance(exc, NotFound) else 400 if isinstance(exc, ProviderBadResponse) else 403
            return envelope_error(status, exc.code, exc.user_message)
        return JSONResponse({'code': 200, 'msg': 'ok'})

    @router.get('/files/{image_id}/{variant}')
    async def image_file(image_id: str, variant: str, request: Request, download: bool = False) -> Response:
        identity = current_identity(request)
        image = parse_id(image_id)
        if image is None:
            raise NotFound('That image does not exist.')
        ref = await services.library.file_for(identity.id, image, variant)
        url = await services.library.url_for(ref, download=download)
        if url:
            return RedirectResponse(url, status_code=307, headers={'Cache-Control': 'private, max-age=60'})
        if request.headers.get('if-none-match') == ref.etag:
            return Response(status_code=304, headers={'ETag': ref.etag})
        data = await services.library.read(ref)
        headers = {'Cache-Control': 'private, max-age=86400, immutable', 'ETag': ref.etag,
                   'X-Content-Type-Options': 'nosniff'}
        if download:
            headers['Content-Disposition'] = f'attachment; filename="{ref.filename}"'
        return Response(data, media_type=ref.content_type, headers=headers)

    @router.get('/auth/local')
    async def local_sign_in(request: Request, t: str = '', redirect_to: str = '/dashboard') -> Response:
        if services.local_sign_in is None:  # exists only when no OIDC client is configured
            return RedirectResponse('/login', status_code=303)
        try:
            name, email = await services.local_sign_in.redeem(t)
            user = await services.users.sign_in(subject=f'local:{email}', email=email, name=name)
        except AuthError as exc:
            return RedirectResponse(f'/login?error={quote(exc.user_message, safe="")}', status_code=303)
        await services.auth.log_in(request.session, user)
        log.info('user %s signed in locally', user.id)
        return RedirectResponse(safe_redirect(redirect_to), status_code=303)

    @router.get('/auth/logout')
    async def log_out(request: Request) -> Response:
        await services.auth.log_out(request.session)  # ends it server-side: a replayed cookie is refused
        return RedirectResponse('/', status_code=303)

    @router.get('/healthz')
    async def healthz() -> JSONResponse:
        return JSONResponse({'success': True, 'data': {'status': 'ok'}, 'error': None})

    ready: dict[str, Any] = {'at': -READY_CACHE_S, 'checks': {}}

    @router.get('/readyz')
    async def readyz() -> JSONResponse:
        """The database and the storage only: a provider outage must not take every replica out of the load
        balancer (admins see the provider at /admin/status). Cached briefly, since anyone may call it."""
        now = time.monotonic()
        if now - ready['at'] >= READY_CACHE_S:
            ready['checks'], ready['at'] = await dependency_checks(services), now
        checks: dict[str, str] = ready['checks']
        ok = all(v == 'ok' for v in checks.values())
        return JSONResponse({'success': ok, 'data': checks,
                             'error': None if ok else {'code': 'not_ready', 'message': 'A dependency is unreachable.'}},
                            status_code=200 if ok else 503)

    return router
