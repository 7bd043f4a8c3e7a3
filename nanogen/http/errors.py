"""Every failure as the JSON envelope `{"success": false, "data": null, "error": {...}}`, never a stack trace."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from nanogen.errors import NanogenError


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
            extra['retry_after'] = exc.retry_after
        return envelope_error(exc.http_status, exc.code, exc.user_message, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get('loc', ()) if p not in ('body', 'query', 'path')]
        field = '.'.join(loc) or None
        message = (f"{field}: {first.get('msg', 'invalid value')}" if field
                   else str(first.get('msg', 'Invalid request.')))
        details = [{'field': '.'.join(str(p) for p in e.get('loc', ()) if p not in ('body', 'query', 'path')),
                    'message': e.get('msg', '')} for e in errors]
        return envelope_error(422, 'invalid_input', message, field=field, details=details)
