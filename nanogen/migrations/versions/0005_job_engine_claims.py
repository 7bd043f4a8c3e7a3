"""job engine claims

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

The generation steps run on procrastinate (issue 14). The prompt row stays the state machine and gains what the steps
need to fence each other: `claim_token` (which step execution may write the row now) and `claimed_at` (when it took
the claim, from the database's clock), `finish_attempts` (each finish attempt stores its objects under its own keys,
so a retried attempt can never overwrite or delete a winner's files), and `suspect_submits` (submits that may have
been billed without their task id reaching the database: counted in cost and flagged, never silent). Plain ADD
COLUMNs: no table rebuild, so 0002's SQLite search triggers stay. procrastinate's own schema is applied by
`Services.migrate()` after this (see nanogen/generation/engine.py).
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('prompts', sa.Column('claim_token', sa.String(length=32), nullable=True))
    op.add_column('prompts', sa.Column('claimed_at', sa.DateTime(), nullable=True))
    op.add_column('prompts', sa.Column('finish_attempts', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('prompts', sa.Column('suspect_submits', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place; a batch rebuild would lose 0002's triggers.
    for name in ('suspect_submits', 'finish_attempts', 'claimed_at', 'claim_token'):
        op.execute(f'ALTER TABLE prompts DROP COLUMN {name}')
