"""Raw filter strings (a form, a query string) -> a PromptQuery; shared by the history page, its CSV export and
anything else that filters a user's prompts, so the rules and messages are the same everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from nanogen.config import SIZES
from nanogen.errors import InvalidInput
from nanogen.library.queries import PROMPT_SORTS, PromptQuery

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f'Write the date as YYYY-MM-DD, like 2026-01-31 (got "{value[:20]}").',
                           field=field) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # the range arithmetic and the databases need room on both sides
        raise InvalidInput(f'Use a date between {FIRST_DAY} and {LAST_DAY}.', field=field)
    return day


def history_query(*, status: str | None = None, size: int | str | None = None, search: str | None = None,
                  date_from: str | date | None = None, date_to: str | date | None = None,
                  sort: str = 'newest') -> PromptQuery:
    """The history filters as a PromptQuery; dates are whole UTC days, both ends included."""
    start = date_from if isinstance(date_from, date) else _day(date_from, 'date_from')
    end = date_to if isinstance(date_to, date) else _day(date_to, 'date_to')
    if start and end and start > end:
        raise InvalidInput('The start date must not be after the end date.', field='date_from')
    size_int: int | None = None
    if size not in (None, ''):
        try:
            size_int = int(size)
            if size_int not in SIZES:
                raise ValueError(size)
        except (TypeError, ValueError):
            raise InvalidInput('Choose a size of 512, 768, 1024 or 1536 pixels.', field='size') from None
    if sort not in PROMPT_SORTS:
        raise InvalidInput(f'Sort by one of: {", ".join(PROMPT_SORTS)}.', field='sort')
    return PromptQuery(status=(status or None) and status.upper(), size=size_int, search=search or None,
                       date_from=datetime(start.year, start.month, start.day, tzinfo=UTC) if start else None,
                       date_to=(datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
                                if end else None),
                       sort=sort)  # type: ignore[arg-type]
