"""What every /api/v1 resource module shares: the envelope, the base URL, the caller dependency and the parameters."""

# No `from __future__ import annotations`: FastAPI must see the Annotated parameter aliases as objects.
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from nanogen.accounts.ratelimit import RateLimiter
from nanogen.accounts.users import Identity
from nanogen.errors import InvalidInput
from nanogen.http.api.models import ErrorEnvelope
from nanogen.http.identity import current_identity

PREFIX = '/api/v1'
MAX_USAGE_DAYS = {'day': 366, 'month': 3660}


def err(description: str) -> dict[str, Any]:
    return {'model': ErrorEnvelope, 'description': description}


COMMON: dict[int | str, dict[str, Any]] = {401: err('No session and no valid API token.'),
          422: err('A parameter is invalid; `error.field` names it.'),
          429: err('Too many requests; wait `Retry-After` seconds.')}
BY_ID: dict[int | str, dict[str, Any]] = {**COMMON, 404: err('No such id, or it belongs to someone else.')}

IdPath = Annotated[int, Path(ge=1, le=2_147_483_647, description='The id.')]
Cursor = Annotated[str | None, Query(max_length=512, description='`next_cursor` from the previous page.')]
Limit = Annotated[int, Query(ge=1, le=200, description='Items per page.')]
DateFrom = Annotated[datetime | None, Query(description='Inclusive, ISO 8601 (UTC when no offset is given).')]
DateTo = Annotated[datetime | None, Query(description='Exclusive, ISO 8601 (UTC when no offset is given).')]
Search = Annotated[str | None, Query(max_length=200, description='Case-insensitive text in the prompt.')]


def who_dependency(limiter: RateLimiter) -> Any:
    """`Annotated[Identity, Depends(...)]` for route signatures: the caller, counted against one shared limiter, so
    every resource module draws on the same per-user budget (and every replica too, when the limiter's storage is
    Redis or PostgreSQL)."""

    async def identity(request: Request) -> Identity:
        who = current_identity(request)
        await limiter.acquire(who.id)
        return who

    return Annotated[Identity, Depends(identity)]


def base(request: Request) -> str:
    return str(request.base_url).rstrip('/')


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder({'success': True, 'data': data, 'error': None}), status_code=status,
                        headers=headers)


def text(value: str | None, field: str) -> str | None:
    if value is not None and not value.isprintable():
        raise InvalidInput('The search text must not contain control characters.', field=field)
    return value


def utc(value: datetime | None, field: str) -> datetime | None:
    """Aware UTC; a naive time is taken as UTC. A date that cannot be placed in UTC is refused, not crashed on."""
    if value is None:
        return None
    try:
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        aware + timedelta(days=MAX_USAGE_DAYS['month'])  # room for the usage range arithmetic
        aware - timedelta(days=MAX_USAGE_DAYS['month'])
    except (OverflowError, ValueError):
        raise InvalidInput('Use a date between the years 0011 and 9989.', field=field) from None
    return aware
