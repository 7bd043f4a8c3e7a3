"""batches: batches, their rows, and the QUEUED status of a batch row waiting its turn

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Issue 17. Two new tables (`batches`, `batch_rows`: the row number, its variables, the prompt that runs it now) and
one more allowed value in `ck_prompts_status`. PostgreSQL swaps the constraint; SQLite cannot alter a CHECK in place
and a table rebuild would lose 0002's search triggers (and cascade through images), so its stored schema text is
loosened with `writable_schema`, the procedure SQLite documents for changing CHECK constraints (existing rows
already satisfy the wider check; the schema version is bumped so every connection re-reads it).
"""
import sqlalchemy as sa
from alembic import op

from nanogen.models import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

AUTOINC = {'sqlite_autoincrement': True}
OLD = "status IN ('PENDING','PROCESSING','COMPLETED','FAILED','CANCELLED')"
NEW = "status IN ('PENDING','PROCESSING','COMPLETED','FAILED','CANCELLED','QUEUED')"


def _prompt_status_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        version = bind.exec_driver_sql('PRAGMA schema_version').scalar_one()
        bind.exec_driver_sql('PRAGMA writable_schema=ON')
        bind.exec_driver_sql("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'prompts'",
                             (old, new))
        bind.exec_driver_sql(f'PRAGMA schema_version={int(version) + 1}')
        bind.exec_driver_sql('PRAGMA writable_schema=OFF')
        return
    op.drop_constraint('ck_prompts_status', 'prompts', type_='check')
    op.create_check_constraint('ck_prompts_status', 'prompts', new)


def upgrade() -> None:
    op.create_table('batches',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False,
                              index=True),
                    sa.Column('name', sa.String(200), nullable=False),
                    sa.Column('source', sa.String(12), nullable=False),
                    sa.Column('status', sa.String(12), nullable=False, index=True),
                    sa.Column('total_rows', sa.Integer, nullable=False),
                    sa.Column('estimated_cost', sa.Numeric(12, 6), nullable=False),
                    sa.Column('created_at', UTCDateTime(), nullable=False),
                    sa.Column('finished_at', UTCDateTime(), nullable=True),
                    sa.CheckConstraint("status IN ('RUNNING','PAUSED','CANCELLED','DONE')", name='ck_batches_status'),
                    **AUTOINC)
    op.create_table('batch_rows',
                    sa.Column('id', sa.Integer, primary_key=True),
                    sa.Column('batch_id', sa.Integer, sa.ForeignKey('batches.id', ondelete='CASCADE'), nullable=False,
                              index=True),
                    sa.Column('row_number', sa.Integer, nullable=False),
                    sa.Column('prompt_id', sa.Integer, sa.ForeignKey('prompts.id', ondelete='CASCADE'),
                              nullable=False, index=True),
                    sa.Column('variables', sa.Text, nullable=True),
                    sa.Column('reference', sa.String(255), nullable=True),
                    sa.UniqueConstraint('batch_id', 'row_number', name='uq_batch_rows_number'), **AUTOINC)
    _prompt_status_check(OLD, NEW)


def downgrade() -> None:
    op.execute("UPDATE prompts SET status = 'CANCELLED' WHERE status = 'QUEUED'")
    _prompt_status_check(NEW, OLD)
    op.drop_table('batch_rows')
    op.drop_table('batches')
