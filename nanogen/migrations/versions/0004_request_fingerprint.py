"""prompt request fingerprint

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

`prompts.request_fingerprint`: the SHA-256 of the whole API request (canonical JSON of the validated fields plus the
SHA-256 of each uploaded reference image), so a retry with the same Idempotency-Key but a different body is answered
409 instead of replaying another request's result. Rows from before this revision keep NULL and are compared by the
fields they store. A plain ADD COLUMN: no table rebuild, so 0002's SQLite search triggers stay.
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('prompts', sa.Column('request_fingerprint', sa.String(length=64), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; a batch rebuild would lose 0002's triggers.
    op.execute('ALTER TABLE prompts DROP COLUMN request_fingerprint')
