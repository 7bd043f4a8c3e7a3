"""webhooks: endpoints and their durable deliveries

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02

Issue 17 item 5. New tables only. `batch_id` is a plain integer (no foreign key): batches are another table.
"""
import sqlalchemy as sa
from alembic import op

from nanogen.models import UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

AUTOINC = {'sqlite_autoincrement': True}


def upgrade() -> None:
    op.create_table('webhook_endpoints',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False,
                              index=True),
                    sa.Column('url', sa.String(2000), nullable=False),
                    sa.Column('secret', sa.String(100), nullable=False),
                    sa.Column('batch_id', sa.Integer, nullable=True, index=True),
                    sa.Column('events', sa.String(500), nullable=False),
                    sa.Column('active', sa.Boolean, nullable=False),
                    sa.Column('created_at', UTCDateTime(), nullable=False), **AUTOINC)
    op.create_table('webhook_deliveries',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('endpoint_id', sa.Integer, sa.ForeignKey('webhook_endpoints.id', ondelete='CASCADE'),
                              nullable=False, index=True),
                    sa.Column('event', sa.String(40), nullable=False),
                    sa.Column('event_id', sa.String(80), nullable=False),
                    sa.Column('payload', sa.Text, nullable=False),
                    sa.Column('state', sa.String(12), nullable=False),
                    sa.Column('attempts', sa.Integer, nullable=False),
                    sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
                    sa.Column('claimed_until', UTCDateTime(), nullable=True),
                    sa.Column('last_status', sa.Integer, nullable=True),
                    sa.Column('last_error', sa.String(300), nullable=True),
                    sa.Column('created_at', UTCDateTime(), nullable=False),
                    sa.Column('updated_at', UTCDateTime(), nullable=False),
                    sa.Column('delivered_at', UTCDateTime(), nullable=True),
                    sa.UniqueConstraint('endpoint_id', 'event_id', name='uq_webhook_deliveries_event'),
                    sa.CheckConstraint("state IN ('pending','delivered','failed')", name='ck_webhook_deliveries_state'),
                    **AUTOINC)
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['state', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_endpoints')
