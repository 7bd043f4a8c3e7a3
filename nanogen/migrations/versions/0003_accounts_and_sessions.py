"""accounts and sessions: ids never reused, session epochs, server-side sessions, token scopes, share tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Issue 11 findings 3, 8, 9, 10, 14:
- SQLite: users, prompts, images, api_tokens and shares get AUTOINCREMENT, so a deleted row's id is never handed out
  again (the ids reach session cookies, share links and file cache keys). SQLite can only do that by recreating the
  table; db.Database.migrate turns foreign keys off for the run, or dropping `users` would cascade-delete every row
  pointing at it. Recreating `prompts` drops 0002's search triggers, so they are created again here.
  PostgreSQL's sequences never reuse ids: nothing to do there.
- users.session_epoch (random per user, in every session; new on "sign out everywhere") and users.admin_source (why
  someone is an admin). Existing admins become 'legacy': they stay admin on a development install without
  NANOGEN_ADMIN_EMAILS, and are kept only when listed once the list is set.
- user_sessions: one row per signed-in browser; sign-out revokes it. Existing cookies carry no session id and must
  sign in again.
- used_tickets: redeemed local sign-in tickets, until they expire.
- api_tokens.scope: existing tokens get 'generate' (what they could do under /api/v1 before).
- shares.salt / shares.token_hash: new links are random tokens looked up by hash. Existing shares keep both empty and
  their old signed-id links keep working.
"""
import importlib.util
import secrets
from pathlib import Path

import sqlalchemy as sa
from alembic import op

import nanogen.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

AUTOINCREMENT_TABLES = ('users', 'prompts', 'images', 'api_tokens', 'shares')


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    op.add_column('users', sa.Column('admin_source', sa.String(length=16), nullable=False, server_default=''))
    op.add_column('users', sa.Column('session_epoch', sa.String(length=64), nullable=False, server_default=''))
    op.add_column('api_tokens', sa.Column('scope', sa.String(length=16), nullable=False, server_default='generate'))
    op.add_column('shares', sa.Column('salt', sa.String(length=64), nullable=True))
    op.add_column('shares', sa.Column('token_hash', sa.String(length=64), nullable=True))
    op.create_index('ix_shares_token_hash', 'shares', ['token_hash'], unique=True)
    bind.execute(sa.text("UPDATE users SET admin_source = 'legacy' WHERE is_admin"))
    for (user_id,) in bind.execute(sa.text('SELECT id FROM users')).all():
        bind.execute(sa.text('UPDATE users SET session_epoch = :e WHERE id = :id'),
                     {'e': secrets.token_hex(16), 'id': user_id})
    op.create_table('user_sessions',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('sid_hash', sa.String(length=64), nullable=False),
                    sa.Column('user_id', sa.Integer(), nullable=False),
                    sa.Column('created_at', nanogen.models.UTCDateTime(), nullable=False),
                    sa.Column('revoked_at', nanogen.models.UTCDateTime(), nullable=True),
                    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('sid_hash'))
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id'], unique=False)
    op.create_table('used_tickets',
                    sa.Column('ticket_id', sa.String(length=64), nullable=False),
                    sa.Column('expires_at', nanogen.models.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('ticket_id'))
    op.create_index('ix_used_tickets_expires_at', 'used_tickets', ['expires_at'], unique=False)
    if sqlite:
        _sqlite_autoincrement(bind)


def downgrade() -> None:
    op.drop_index('ix_used_tickets_expires_at', table_name='used_tickets')
    op.drop_table('used_tickets')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
    op.drop_index('ix_shares_token_hash', table_name='shares')
    with op.batch_alter_table('shares') as batch:
        batch.drop_column('token_hash')
        batch.drop_column('salt')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('scope')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('session_epoch')
        batch.drop_column('admin_source')
    if op.get_bind().dialect.name == 'sqlite':  # the batch above recreated prompts' neighbours only
        _create_search_triggers(op.get_bind())


def _sqlite_autoincrement(bind: sa.Connection) -> None:
    if bind.exec_driver_sql('PRAGMA foreign_keys').scalar():
        raise RuntimeError('run this revision through Database.migrate: SQLite foreign keys must be off')
    for table in AUTOINCREMENT_TABLES:
        # Reflection keeps columns, indexes, unique, foreign keys and named CHECK constraints; the copy keeps ids.
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass
    _create_search_triggers(bind)
    bad = bind.exec_driver_sql('PRAGMA foreign_key_check').fetchall()
    if bad:
        raise RuntimeError(f'foreign keys broken after recreating tables: {bad[:5]}')


def _create_search_triggers(bind: sa.Connection) -> None:
    """Recreating `prompts` dropped 0002's FTS triggers; the FTS table itself (keyed by the kept ids) is intact."""
    has_fts = bind.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'prompts_fts'").first() is not None
    if not has_fts:
        return  # this SQLite has no trigram tokenizer: 0002 left search as a plain scan
    spec = importlib.util.spec_from_file_location('_nanogen_0002', Path(__file__).with_name('0002_prompt_search.py'))
    assert spec is not None and spec.loader is not None
    search = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(search)
    for name, body in search.SQLITE_TRIGGERS.items():
        bind.exec_driver_sql(f'DROP TRIGGER IF EXISTS {name}')
        bind.exec_driver_sql(f'CREATE TRIGGER {name} {body}')
