"""Small display helpers the studio pages share (money, durations, status colours); no page lives here."""

from __future__ import annotations

from datetime import datetime

from nanogen.generation.budget import usd
from nanogen.models import Prompt, utcnow

STATUS_COLORS = {'QUEUED': 'blue-grey', 'PENDING': 'grey', 'PROCESSING': 'blue', 'COMPLETED': 'positive', 'FAILED': 'negative',
                 'CANCELLED': 'orange'}


# The one money format (its rule is in the docstring); it lives in the core so error messages agree with pages.
money = usd


def provider_credits(amount: float | int) -> str:
    """The provider's own credit units (not dollars, so not `money`)."""
    return f'{amount:,.2f}'


def cancelled_notice(prompt: Prompt) -> str:
    """What a cancel cost: once submitted, the provider works (and bills) anyway, and the estimate is recorded."""
    if prompt.cost > 0:
        return (f'Generation cancelled. The provider had already started it, so it is still billed '
                f'({money(prompt.cost)}).')
    return 'Generation cancelled before it reached the provider: nothing was billed.'


def duration(ms: int | None) -> str:
    if ms is None:
        return '–'
    seconds = ms / 1000
    return f'{seconds:.1f} s' if seconds < 60 else f'{int(seconds // 60)} min {int(seconds % 60)} s'


def elapsed(prompt: Prompt, now: datetime | None = None) -> str:
    end = prompt.completed_at or now or utcnow()
    seconds = max(0, int((end - prompt.started_at).total_seconds()))
    return f'{seconds // 60}:{seconds % 60:02d}'


def when(value: datetime) -> str:
    return value.strftime('%Y-%m-%d %H:%M')
