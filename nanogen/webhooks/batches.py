"""Webhooks for batches: a batch's generation events reach its endpoints, and its end is a `batch.completed` event."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from nanogen.batches.ends import BatchFinished
from nanogen.batches.service import BatchService
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


def connect(webhooks: WebhookService, batches: BatchService) -> None:
    """Wire the two together (bootstrap calls this once)."""
    webhooks.batch_of = batch_of

    def ended(s: Session, event: BatchFinished) -> None:
        # In the transaction that ends the batch (the outbox): the delivery commits with the end or not at all.
        # The event id is stable for one ending (a hook run twice sends once) but new when the batch ends again with
        # other counts, after its failed rows were retried.
        counts = '-'.join(f'{k}{v}' for k, v in sorted(event.counts.items()))
        webhooks.emit_in(s, event.user_id, BATCH_COMPLETED, f'batch-{event.batch_id}-{event.status.lower()}-{counts}',
                         batch_payload(event, webhooks.settings.public_url), batch_id=event.batch_id)
    batches.on_end_in.append(ended)
    batches.on_finished.append(lambda event: webhooks.wake())  # committed now: the sender looks at once
