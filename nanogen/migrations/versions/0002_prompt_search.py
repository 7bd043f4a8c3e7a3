"""prompt search index

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Makes the gallery/history text search (a case-insensitive substring of prompts.prompt) use an index:
- PostgreSQL: the pg_trgm extension and a GIN trigram index, which `ILIKE '%text%'` uses unchanged. Where the role may
  not create the extension (a managed database, no CREATE on the database), the upgrade still succeeds with a
  WARNING and searches keep scanning the user's rows: slower on very large libraries, same results.
- SQLite: an FTS5 table with the trigram tokenizer over prompts.prompt (external content, so the text is stored once),
  kept in step by triggers. queries.py narrows searches of 3+ characters with it and keeps LIKE as the exact filter.
  A SQLite without FTS5's trigram tokenizer (older than 3.34) gets the same WARNING and the plain scan.

Note for later revisions on SQLite: a batch ALTER of `prompts` recreates the table and drops these triggers with it;
such a revision must create them again (call `create_sqlite_search()` from here).
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

log = logging.getLogger('nanogen.migrations')

PG_INDEX = 'ix_prompts_prompt_trgm'
SQLITE_TRIGGERS = {
    'prompts_fts_ai': 'AFTER INSERT ON prompts BEGIN '
                      'INSERT INTO prompts_fts(rowid, prompt) VALUES (new.id, new.prompt); END',
    'prompts_fts_ad': 'AFTER DELETE ON prompts BEGIN '
                      "INSERT INTO prompts_fts(prompts_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); END",
    # Only when the text changes: prompts are updated often (status, claims) and those updates must not touch the index.
    'prompts_fts_au': 'AFTER UPDATE OF prompt ON prompts BEGIN '
                      "INSERT INTO prompts_fts(prompts_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); "
                      'INSERT INTO prompts_fts(rowid, prompt) VALUES (new.id, new.prompt); END',
}


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        create_sqlite_search()
    else:
        _create_pg_trigram()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for name in SQLITE_TRIGGERS:
            bind.exec_driver_sql(f'DROP TRIGGER IF EXISTS {name}')
        bind.exec_driver_sql('DROP TABLE IF EXISTS prompts_fts')
        return
    bind.exec_driver_sql(f'DROP INDEX IF EXISTS {PG_INDEX}')
    try:
        # RESTRICT (the default): left in place when anything else uses it, or when this role may not drop it.
        with bind.begin_nested():
            bind.exec_driver_sql('DROP EXTENSION IF EXISTS pg_trgm')
    except sa.exc.DBAPIError as exc:
        log.warning('pg_trgm extension left installed: %s', _first_line(exc))


def create_sqlite_search() -> None:
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE VIRTUAL TABLE prompts_fts USING fts5("
                                 "prompt, content='prompts', content_rowid='id', tokenize='trigram')")
    except sa.exc.OperationalError as exc:
        log.warning('prompt search stays a full scan: this SQLite (%s) has no FTS5 trigram tokenizer (%s)',
                    _sqlite_version(bind), _first_line(exc))
        return
    for name, body in SQLITE_TRIGGERS.items():
        bind.exec_driver_sql(f'CREATE TRIGGER {name} {body}')
    bind.exec_driver_sql("INSERT INTO prompts_fts(prompts_fts) VALUES ('rebuild')")  # back-fill existing prompts


def _create_pg_trigram() -> None:
    bind = op.get_bind()
    installed = bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first() is not None
    if not installed:
        try:
            # A savepoint, so a refusal leaves the migration's transaction usable.
            with bind.begin_nested():
                bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        except sa.exc.DBAPIError as exc:
            log.warning('prompt search stays a full scan: could not create the pg_trgm extension (%s); a superuser '
                        'can run CREATE EXTENSION pg_trgm, then CREATE INDEX %s ON prompts USING gin '
                        '(prompt gin_trgm_ops)', _first_line(exc), PG_INDEX)
            return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql(f'CREATE INDEX IF NOT EXISTS {PG_INDEX} ON prompts USING gin (prompt gin_trgm_ops)')
    except sa.exc.DBAPIError as exc:  # e.g. pg_trgm installed in a schema that is not on the search_path
        log.warning('prompt search stays a full scan: could not create %s (%s)', PG_INDEX, _first_line(exc))


def _sqlite_version(bind: sa.Connection) -> str:
    return str(bind.exec_driver_sql('SELECT sqlite_version()').scalar())


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, 'orig', exc)).strip().splitlines()[0]
