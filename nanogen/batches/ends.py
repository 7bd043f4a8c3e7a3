"""A batch's end: the counts it ended with and the event its end hooks receive (webhooks make `batch.completed`).

A batch ends when none of its rows is queued or running: RUNNING or PAUSED becomes DONE, a CANCELLED batch stays
CANCELLED. `finished_at` is set in that same transaction, together with whatever the in-transaction end hooks write
(the webhook deliveries), so an end is never recorded without its event, nor announced twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nanogen.models import UNFINISHED, Status


@dataclass(frozen=True)
class BatchFinished:
    """What the batch-end hooks receive."""

    batch_id: int
    user_id: int
    status: str  # DONE or CANCELLED
    counts: dict[str, int]


def progress(statuses: list[str]) -> dict[str, int]:
    return {'done': statuses.count(Status.COMPLETED.value),
            'running': sum(1 for s in statuses if s in UNFINISHED),
            'failed': statuses.count(Status.FAILED.value),
            'queued': statuses.count(Status.QUEUED.value),
            'cancelled': statuses.count(Status.CANCELLED.value)}


def progress_of(by_status: Mapping[str, int]) -> dict[str, int]:
    """`progress` from a count per prompt status."""
    return {'done': by_status.get(Status.COMPLETED.value, 0),
            'running': sum(by_status.get(s, 0) for s in UNFINISHED),
            'failed': by_status.get(Status.FAILED.value, 0),
            'queued': by_status.get(Status.QUEUED.value, 0),
            'cancelled': by_status.get(Status.CANCELLED.value, 0)}
