"""Webhook endpoints (register, list, delete) and the events they get: the delivery rows, written in the
transaction where the event happens (a prompt becoming final) or by `emit` (a batch finished)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.models import Batch, Prompt, utcnow
from nanogen.webhooks import payloads, safety
from nanogen.webhooks.signing import new_secret
from nanogen.webhooks.tables import EVENTS, PENDING, PING, WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS_PER_USER = 20
HISTORY_LIMIT = 50
BatchOf = Callable[[Session, Prompt], int | None]


@dataclass(frozen=True)
class WebhookInfo:
    """An endpoint as its owner sees it (the secret only as a hint: it was shown once)."""

    id: int
    user_id: int
    url: str
    events: list[str]
    batch_id: int | None
    active: bool
    created_at: datetime
    secret_hint: str
    disabled_reason: str | None = None  # set when the app turned it off (its deliveries kept failing)


@dataclass(frozen=True)
class NewWebhook:
    info: WebhookInfo
    secret: str  # shown now, once


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    endpoint_id: int
    event: str
    event_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


def webhook_info(row: WebhookEndpoint) -> WebhookInfo:
    assert row.id is not None
    return WebhookInfo(id=row.id, user_id=row.user_id, url=row.url, events=row.event_list, batch_id=row.batch_id,
                       active=row.active, created_at=row.created_at, secret_hint=row.secret[:10] + '…',
                       disabled_reason=row.disabled_reason)


def delivery_info(row: WebhookDelivery) -> DeliveryInfo:
    assert row.id is not None
    return DeliveryInfo(id=row.id, endpoint_id=row.endpoint_id, event=row.event, event_id=row.event_id,
                        state=row.state, attempts=row.attempts, last_status=row.last_status,
                        last_error=row.last_error, next_attempt_at=row.next_attempt_at, created_at=row.created_at,
                        delivered_at=row.delivered_at)


def _no_batch(s: Session, prompt: Prompt) -> int | None:
    return None


class WebhookService:
    """Long-lived. `wake` is the sender's (callable from any thread) so new rows go out without waiting a poll;
    `batch_of` maps a prompt to its batch (a batch's endpoints filter on it)."""

    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime] = utcnow, *,
                 wake: Callable[[], None] | None = None, batch_of: BatchOf | None = None) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.allowed = safety.parse_allowed(settings.webhook_allowed_hosts)
        self.batch_of: BatchOf = batch_of or _no_batch
        self.wake: Callable[[], None] = wake or (lambda: None)

    # ------------------------------------------------------------------ endpoints
    async def register(self, user_id: int, url: str, events: list[str] | tuple[str, ...],
                       batch_id: int | None = None) -> NewWebhook:
        chosen = list(dict.fromkeys(events))
        if not chosen or any(e not in EVENTS for e in chosen):
            raise InvalidInput(f'Choose the events to send: {", ".join(EVENTS)}.', field='events')
        if batch_id is not None and (isinstance(batch_id, bool) or batch_id < 1):
            raise InvalidInput('batch_id must be a batch\'s id, or empty for every event of your account.',
                               field='batch_id')
        try:
            target = await safety.check(url, self.allowed)
        except safety.Refused as exc:
            raise InvalidInput(str(exc), field='url') from None

        def insert(s: Session) -> NewWebhook:
            if batch_id is not None:  # only the caller's own batch; another user's answers like a missing one
                batch = s.get(Batch, batch_id)
                if batch is None or batch.user_id != user_id:
                    raise NotFound('That batch does not exist.')
            count = len(s.exec(select(WebhookEndpoint.id).where(col(WebhookEndpoint.user_id) == user_id)).all())
            if count >= MAX_ENDPOINTS_PER_USER:
                raise InvalidInput(f'You have {MAX_ENDPOINTS_PER_USER} webhooks already: delete one first.',
                                   field='url')
            row = WebhookEndpoint(user_id=user_id, url=target.url, secret=new_secret(), batch_id=batch_id,
                                  events=','.join(chosen), created_at=self.clock())
            s.add(row)
            s.commit()
            return NewWebhook(info=webhook_info(row), secret=row.secret)
        return await self.db.write(insert)

    async def endpoints(self, user_id: int, *, everyone: bool = False) -> list[WebhookInfo]:
        """The user's endpoints; with `everyone` (admins), every user's."""
        def work(s: Session) -> list[WebhookInfo]:
            query = select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))
            if not everyone:
                query = query.where(col(WebhookEndpoint.user_id) == user_id)
            return [webhook_info(r) for r in s.exec(query)]
        return await self.db.run(work)

    @staticmethod
    def _owned(s: Session, user_id: int, endpoint_id: int) -> WebhookEndpoint:
        row = s.get(WebhookEndpoint, endpoint_id)
        if row is None or row.user_id != user_id:
            raise NotFound('That webhook does not exist.')
        return row

    async def get(self, user_id: int, endpoint_id: int) -> WebhookInfo:
        return await self.db.run(lambda s: webhook_info(self._owned(s, user_id, endpoint_id)))

    async def set_active(self, user_id: int, endpoint_id: int, active: bool) -> WebhookInfo:
        """The owner's switch. Off: no new event is queued for it and its pending deliveries wait; on again: those
        go out (and the reason the app gave for turning it off is cleared)."""
        def work(s: Session) -> WebhookInfo:
            row = self._owned(s, user_id, endpoint_id)
            row.active, row.disabled_reason = bool(active), None
            s.add(row)
            s.commit()
            return webhook_info(row)
        info = await self.db.write(work)
        if active:
            self.wake()
        return info

    async def delete(self, user_id: int, endpoint_id: int) -> None:
        def work(s: Session) -> None:
            row = self._owned(s, user_id, endpoint_id)
            for delivery in s.exec(select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)):
                s.delete(delivery)
            s.delete(row)
            s.commit()
        await self.db.write(work)

    async def deliveries(self, user_id: int, endpoint_id: int, limit: int = HISTORY_LIMIT) -> list[DeliveryInfo]:
        """The endpoint's newest deliveries first."""
        def work(s: Session) -> list[DeliveryInfo]:
            self._owned(s, user_id, endpoint_id)
            rows = s.exec(select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
                          .order_by(col(WebhookDelivery.id).desc()).limit(limit))
            return [delivery_info(r) for r in rows]
        return await self.db.run(work)

    async def redeliver(self, user_id: int, delivery_id: int, *, endpoint_id: int | None = None) -> DeliveryInfo:
        """Send a delivery that ran out of attempts (or went through) once more, with a fresh set of attempts."""
        def work(s: Session) -> DeliveryInfo:
            row = s.get(WebhookDelivery, delivery_id, with_for_update=True)
            if row is None or (endpoint_id is not None and row.endpoint_id != endpoint_id):
                raise NotFound('That delivery does not exist.')
            if not self._owned(s, user_id, row.endpoint_id).active:
                raise InvalidInput('This webhook is off: turn it on first, then redeliver.', field='delivery_id')
            if row.state == PENDING:
                raise InvalidInput('That delivery is still being sent.', field='delivery_id')
            row.state, row.attempts, row.claimed_until = PENDING, 0, None
            row.next_attempt_at = row.updated_at = self.clock()
            s.add(row)
            s.commit()
            return delivery_info(row)
        info = await self.db.write(work)
        self.wake()
        return info

    async def ping(self, user_id: int, endpoint_id: int) -> DeliveryInfo:
        """Queue a `ping` event for one endpoint (whatever its filter), to check the receiver and its signature."""
        def work(s: Session) -> DeliveryInfo:
            endpoint = self._owned(s, user_id, endpoint_id)
            if not endpoint.active:
                raise InvalidInput('This webhook is off: turn it on first, then send a test.', field='webhook_id')
            event_id = f'evt_{uuid.uuid4().hex}'
            row = self._add(s, endpoint, PING, event_id, {'webhook_id': endpoint_id, 'message': 'Hello from nanogen'})
            s.commit()
            return delivery_info(row)
        info = await self.db.write(work)
        self.wake()
        return info

    # ------------------------------------------------------------------ events
    def _add(self, s: Session, endpoint: WebhookEndpoint, event: str, event_id: str,
             data: dict[str, Any]) -> WebhookDelivery:
        assert endpoint.id is not None
        now = self.clock()
        row = WebhookDelivery(endpoint_id=endpoint.id, event=event, event_id=event_id,
                              payload=payloads.body(event, event_id, data, now), next_attempt_at=now, created_at=now,
                              updated_at=now)
        s.add(row)
        s.flush()
        return row

    def emit_in(self, s: Session, user_id: int, event: str, event_id: str, data: dict[str, Any],
                batch_id: int | None = None) -> int:
        """Queue `event` for the user's endpoints that want it, in the caller's transaction (committed with it).
        Account endpoints get every event of the user; a batch's endpoints only events of that batch. The same
        `event_id` reaches an endpoint once. Returns how many deliveries were queued."""
        scope: Any = col(WebhookEndpoint.batch_id).is_(None)
        if batch_id is not None:
            scope = scope | (col(WebhookEndpoint.batch_id) == batch_id)
        endpoints = s.exec(select(WebhookEndpoint).where(col(WebhookEndpoint.user_id) == user_id,
                                                         col(WebhookEndpoint.active).is_(True), scope)).all()
        wanted = [e for e in endpoints if event in e.event_list]
        if not wanted:
            return 0
        seen = set(s.exec(select(WebhookDelivery.endpoint_id).where(
            col(WebhookDelivery.event_id) == event_id,
            col(WebhookDelivery.endpoint_id).in_([e.id for e in wanted]))).all())
        added = [self._add(s, e, event, event_id, data) for e in wanted if e.id not in seen]
        return len(added)

    async def emit(self, user_id: int, event: str, payload: dict[str, Any], batch_id: int | None = None,
                   event_id: str | None = None) -> int:
        """Queue an event (e.g. `batch.completed`) for the user's endpoints; the batch hook calls this. Give an
        `event_id` that is stable for the event (say `batch-12`) so a repeated call sends nothing twice."""
        if event not in EVENTS:
            raise ValueError(f'unknown webhook event {event!r}')
        key = event_id or f'evt_{uuid.uuid4().hex}'

        def work(s: Session) -> int:
            queued = self.emit_in(s, user_id, event, key, payload, batch_id)
            s.commit()
            return queued
        queued = await self.db.write(work)
        if queued:
            self.wake()
        return queued

    def record_final(self, s: Session, prompt: Prompt, image_ids: tuple[int, ...]) -> None:
        """The generation store's hook, inside the transaction that makes a prompt COMPLETED or FAILED: its
        deliveries commit with the status, so a crash right after loses no event."""
        event = payloads.prompt_event(prompt)
        if event is None or prompt.id is None:
            return
        data = payloads.prompt_data(prompt, image_ids, self.settings.public_url)
        if self.emit_in(s, prompt.user_id, event, f'prompt-{prompt.id}-{prompt.status.lower()}', data,
                        self.batch_of(s, prompt)):
            self.wake()  # the sender looks right away; a look before this commit lands finds it a poll later
