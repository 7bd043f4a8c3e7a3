"""prompt released_at: when the batch feeder released a queued row (its generation's start); why a webhook is off

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

Issue 17: the feeder used to overwrite a batch row's `created_at` with its release time, so the row lost when it was
made and sorted as if made later. `created_at` now stays; the generation timeout and the duration measure from
`released_at` when set (NULL for every prompt that never waited in a batch). `webhook_endpoints.disabled_reason`:
why the app turned an endpoint off (its deliveries kept failing); NULL when on or turned off by its owner. Plain
ADD COLUMNs: no table rebuild, so 0002's SQLite search triggers stay.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('prompts', sa.Column('released_at', sa.DateTime(), nullable=True))
    op.add_column('webhook_endpoints', sa.Column('disabled_reason', sa.String(length=300), nullable=True))


def downgrade() -> None:
    op.execute('ALTER TABLE webhook_endpoints DROP COLUMN disabled_reason')
    op.execute('ALTER TABLE prompts DROP COLUMN released_at')  # in place (SQLite 3.35+): the triggers stay
