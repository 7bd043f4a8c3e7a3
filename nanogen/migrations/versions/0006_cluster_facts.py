"""cluster facts and shared API rate windows

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

`cluster_facts`: small facts every replica of one database must agree on; today the secret key's fingerprint (an
HMAC of a fixed label, never the key), so a replica started with another NANOGEN_SECRET_KEY refuses to start.
`api_rate_windows`: the API rate limit's fixed windows when PostgreSQL (and no Redis) is configured, so every
replica counts against one budget per user (nanogen/accounts/ratelimit.py). Two new tables: nothing is rebuilt.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_facts',
                    sa.Column('name', sa.String(length=64), primary_key=True),
                    sa.Column('value', sa.String(length=128), nullable=False),
                    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False))
    op.create_table('api_rate_windows',
                    sa.Column('key', sa.String(length=200), primary_key=True),
                    sa.Column('hits', sa.Integer(), nullable=False),
                    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False))
    op.create_index('ix_api_rate_windows_expires_at', 'api_rate_windows', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_api_rate_windows_expires_at', table_name='api_rate_windows')
    op.drop_table('api_rate_windows')
    op.drop_table('cluster_facts')
