"""The webhook tables: endpoints a user registers, and the durable delivery rows the sender works through."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from nanogen.models import NEVER_REUSE_IDS, UTCDateTime, utcnow

GENERATION_COMPLETED = 'generation.completed'
GENERATION_FAILED = 'generation.failed'
BATCH_COMPLETED = 'batch.completed'
PING = 'ping'  # the "send a test" event: delivered whatever the endpoint's filter says
EVENTS: tuple[str, ...] = (GENERATION_COMPLETED, GENERATION_FAILED, BATCH_COMPLETED)

PENDING, DELIVERED, FAILED = 'pending', 'delivered', 'failed'


class WebhookEndpoint(SQLModel, table=True):
    """A URL a user asked us to POST their events to; `batch_id` None: every event of the account."""

    __tablename__ = 'webhook_endpoints'
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'),
                                             nullable=False, index=True))
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=100)  # signs every delivery; shown to its owner once, never logged
    batch_id: int | None = Field(default=None, index=True)  # a batch's id, no foreign key (batches live elsewhere)
    events: str = Field(max_length=500)  # comma-separated event types it wants
    active: bool = True  # off: nothing is queued for it and its pending deliveries wait (owner's switch, or failures)
    disabled_reason: str | None = Field(default=None, max_length=300)  # why it is off, when the app turned it off
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def event_list(self) -> list[str]:
        return [e for e in self.events.split(',') if e]


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: the exact body to send, and how its attempts went (pending until delivered
    or out of attempts). Rows are the queue, so a restart loses none."""

    __tablename__ = 'webhook_deliveries'
    __table_args__ = (
        sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_webhook_deliveries_event'),
        sa.Index('ix_webhook_deliveries_due', 'state', 'next_attempt_at'),
        sa.CheckConstraint("state IN ('pending','delivered','failed')", name='ck_webhook_deliveries_state'),
        NEVER_REUSE_IDS,
    )
    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey('webhook_endpoints.id', ondelete='CASCADE'),
                                                 nullable=False, index=True))
    event: str = Field(max_length=40)
    event_id: str = Field(max_length=80)  # the same event reaches an endpoint once (the unique constraint)
    payload: str = Field(sa_type=sa.Text)  # the JSON body, byte for byte what every attempt sends
    state: str = Field(default=PENDING, max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)  # a sender's lease on the row
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
