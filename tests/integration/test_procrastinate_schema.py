"""procrastinate's schema on PostgreSQL follows the installed procrastinate: created whole on an empty database,
then each of its migration files not applied yet is applied once at start-up (recorded in our own table)."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from procrastinate.schema import SchemaManager

from nanogen.db import Database
from nanogen.generation.engine import MIGRATIONS_TABLE, apply_schema, shipped_migrations
from nanogen.generation.relay import to_psycopg_url

pytestmark = [pytest.mark.postgres, pytest.mark.fresh_database]


def recorded(db: Database) -> list[str]:
    with psycopg.connect(to_psycopg_url(db.url)) as conn:
        return [r[0] for r in conn.execute(f'SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name')]


def test_a_migration_shipped_by_a_newer_procrastinate_is_applied_once(postgres_url: str, tmp_path: Path) -> None:
    db = Database(postgres_url)
    try:
        apply_schema(db)  # an empty database: the full schema, every shipped file recorded as in it
        assert recorded(db) == [m.name for m in shipped_migrations()]
        apply_schema(db)  # nothing pending: nothing runs again

        newer = tmp_path / 'migrations'  # the next release's folder: the same files plus one
        shutil.copytree(SchemaManager.get_migrations_path(), newer)
        (newer / '99.00.00_01_pre_add_a_table.sql').write_text('CREATE TABLE procrastinate_drill (id int);')
        apply_schema(db, newer)
        apply_schema(db, newer)  # once only (a second CREATE TABLE would fail)
        assert recorded(db)[-1] == '99.00.00_01_pre_add_a_table.sql'
        with psycopg.connect(to_psycopg_url(db.url)) as conn:
            assert conn.execute("SELECT to_regclass('procrastinate_drill')").fetchone() == ('procrastinate_drill',)
    finally:
        db.dispose()


def test_a_schema_made_before_the_record_counts_as_the_pinned_release(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        with psycopg.connect(to_psycopg_url(db.url), autocommit=True) as conn:
            conn.execute(SchemaManager.get_schema())  # what nanogen applied before it recorded migrations
        apply_schema(db)  # re-running shipped files on it would fail (their types and tables exist)
        assert recorded(db) == [m.name for m in shipped_migrations()]
    finally:
        db.dispose()
