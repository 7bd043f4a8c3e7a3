"""drop the old lease engine's prompt columns (lease_owner, lease_expires_at)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Issue 14 replaced the hand-written lease engine with procrastinate and claim tokens (0005); nothing has read or
written these columns since. On SQLite the batch recreates `prompts` (keeping its ids' AUTOINCREMENT, as 0003 set),
which drops 0002's search triggers: they are created again here (the FTS table, keyed by the kept ids, is intact).
Like 0003 it needs SQLite's foreign keys off (Database.migrate does that), or dropping the old table would
cascade-delete every image row pointing at it.
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

import nanogen.models

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.drop_column('prompts', 'lease_expires_at')
        op.drop_column('prompts', 'lease_owner')
        return
    if bind.exec_driver_sql('PRAGMA foreign_keys').scalar():
        raise RuntimeError('run this revision through Database.migrate: SQLite foreign keys must be off')
    with op.batch_alter_table('prompts', recreate='always', table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.drop_column('lease_expires_at')
        batch.drop_column('lease_owner')
    _create_search_triggers(bind)
    bad = bind.exec_driver_sql('PRAGMA foreign_key_check').fetchall()
    if bad:
        raise RuntimeError(f'foreign keys broken after recreating prompts: {bad[:5]}')


def downgrade() -> None:
    # Plain ADD COLUMNs: no table rebuild, so the search triggers stay.
    op.add_column('prompts', sa.Column('lease_owner', sa.String(length=64), nullable=True))
    op.add_column('prompts', sa.Column('lease_expires_at', nanogen.models.UTCDateTime(), nullable=True))


def _create_search_triggers(bind: sa.Connection) -> None:
    """0002's FTS triggers, which the recreate dropped (none when this SQLite has no trigram tokenizer)."""
    if bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'prompts_fts'").first() is None:
        return
    spec = importlib.util.spec_from_file_location('_nanogen_0002', Path(__file__).with_name('0002_prompt_search.py'))
    assert spec is not None and spec.loader is not None
    search = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(search)
    for name, body in search.SQLITE_TRIGGERS.items():
        bind.exec_driver_sql(f'DROP TRIGGER IF EXISTS {name}')
        bind.exec_driver_sql(f'CREATE TRIGGER {name} {body}')
