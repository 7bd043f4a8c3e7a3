"""Webhooks for batches: a batch's generation events reach its endpoints, and its end is a `batch.completed` event."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from nanogen.batches.ends import BatchFinished
from nanogen.batches.service import EndInHook, FinishedHook
from nanogen.models import BatchRow, Prompt
from nanogen.webhooks.service import WebhookService
from nanogen.webhooks.tables import BATCH_COMPLETED


def batch_of(s: Session, prompt: Prompt) -> int | None:
    """The batch a prompt runs a row of, or None for a single prompt."""
    return s.exec(select(BatchRow.batch_id).where(col(BatchRow.prompt_id) == prompt.id)).first()


def batch_payload(event: BatchFinished, public_url: str | None) -> dict[str, Any]:
    base = (public_url or '').rstrip('/')
    return {'batch_id': event.batch_id, 'status': event.status, 'counts': dict(event.counts),
            'url': f'{base}/api/v1/batches/{event.batch_id}', 'zip_url': f'{base}/api/v1/batches/{event.batch_id}/zip'}


def end_hooks(webhooks: WebhookService) -> tuple[EndInHook, FinishedHook]:
    """The batch-end hooks bootstrap gives to BatchService: `batch.completed` written in the transaction that ends the
    batch (the outbox: the delivery commits with the end or not at all), then a wake-up of the sender after the
    commit (`batch_of` goes to WebhookService's constructor)."""
    def ended(s: Session, event: BatchFinished) -> None:
        # The event id is stable for one ending (a hook run twice sends once) but new when the batch ends again with
        # other counts, after its failed rows were retried.
        counts = '-'.join(f'{k}{v}' for k, v in sorted(event.counts.items()))
        webhooks.emit_in(s, event.user_id, BATCH_COMPLETED, f'batch-{event.batch_id}-{event.status.lower()}-{counts}',
                         batch_payload(event, webhooks.settings.public_url), batch_id=event.batch_id)

    def committed(event: BatchFinished) -> None:
        webhooks.wake()  # committed now: the sender looks at once
    return ended, committed
