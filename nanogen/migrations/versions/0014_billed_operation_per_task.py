"""billed_operation per task: a prompt of several one-image tasks records every task's operationType

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

Issue 15 (audit gap 8): only the first task's operationType was kept, and it priced every image. The column now holds
each task's, comma-separated in task order (up to four `nano-banana-pro_4K`), so it grows from 64 to 255 characters.
SQLite does not enforce a VARCHAR length, so only PostgreSQL changes (no table rebuild: 0002's triggers stay).
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('prompts', 'billed_operation', type_=sa.String(length=255), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('prompts', 'billed_operation', type_=sa.String(length=64), existing_nullable=True)
