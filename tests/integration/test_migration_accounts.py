"""Migration 0003 on a database that already holds data, on SQLite and PostgreSQL (issue 11 findings 3, 8, 9)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from nanogen.db import Database

pytestmark = pytest.mark.fresh_database  # these tests start from revision 0002

ROWS = [
    "INSERT INTO users (id, subject, email, name, avatar_url, is_admin, disabled, session_version, created_at) "
    "VALUES (1, 'local:boss@x.io', 'boss@x.io', 'Boss', '', true, false, 1, '2026-11-01'), "
    "(2, 'local:ada@x.io', 'ada@x.io', 'Ada', '', false, false, 3, '2026-11-01'), "
    "(3, 'local:bob@x.io', 'bob@x.io', 'Bob', '', false, false, 1, '2026-11-01')",
    "INSERT INTO prompts (id, user_id, prompt, task_type, image_size, aspect_ratio, num_images, model, "
    "estimated_cost, cost, status, submit_attempts, created_at, updated_at) "
    "VALUES (5, 2, 'a lighthouse at dusk', 'TEXT_TO_IMAGE', 1024, '1:1', 1, 'nanobanana', 0, 0.02, 'COMPLETED', 1, "
    "'2026-11-02', '2026-11-02')",
    "INSERT INTO images (id, user_id, prompt_id, position, key, original_key, thumb_key, content_type, width, height, "
    "size_bytes, sha256, is_favourite, created_at) "
    "VALUES (7, 2, 5, 0, 'k', 'o', 't', 'image/png', 8, 8, 10, '', true, '2026-11-02')",
    'UPDATE prompts SET image_id = 7 WHERE id = 5',
    "INSERT INTO shares (id, image_id, user_id, created_at) VALUES (4, 7, 2, '2026-11-03')",
    "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at) "
    "VALUES (6, 2, 'ci', 'h', 'ngk_x', '2026-11-03')",
]


@pytest.fixture
def old_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate('0002')
    with database.engine.begin() as conn:
        for statement in ROWS:
            conn.exec_driver_sql(statement)
    yield database
    database.dispose()


def scalar(db: Database, sql: str) -> object:
    with db.engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar()


def test_0003_keeps_every_row_and_fills_the_new_columns(old_db: Database) -> None:
    """Issue 11 findings 3/8/9: upgrading a populated database loses nothing (SQLite recreates five tables with
    foreign keys off, so no cascade runs); epochs are random per user, old admins are 'legacy', old tokens keep
    'generate', old shares keep their signed-id links (no salt)."""
    old_db.migrate()
    with old_db.engine.connect() as conn:
        users = conn.exec_driver_sql('SELECT id, is_admin, admin_source, session_epoch FROM users ORDER BY id').all()
        assert [(u[0], bool(u[1]), u[2]) for u in users] == [(1, True, 'legacy'), (2, False, ''), (3, False, '')]
        assert len({u[3] for u in users}) == 3 and all(len(u[3]) == 32 for u in users)
        assert conn.exec_driver_sql('SELECT image_id FROM prompts WHERE id = 5').scalar() == 7
        assert conn.exec_driver_sql('SELECT is_favourite FROM images WHERE id = 7').scalar()
        assert conn.exec_driver_sql('SELECT salt, token_hash FROM shares WHERE id = 4').one() == (None, None)
        assert conn.exec_driver_sql('SELECT scope FROM api_tokens WHERE id = 6').scalar() == 'generate'
        assert conn.exec_driver_sql('SELECT count(*) FROM user_sessions').scalar() == 0
        assert conn.exec_driver_sql('SELECT count(*) FROM used_tickets').scalar() == 0


def test_0003_makes_sqlite_ids_never_reused_and_keeps_prompt_search(old_db: Database) -> None:
    """Issue 11 finding 3: after 0003 a deleted row's id is never handed out again (SQLite: AUTOINCREMENT; PostgreSQL
    sequences already behave so), and the recreated prompts table still feeds the search index."""
    old_db.migrate()
    with old_db.engine.begin() as conn:
        conn.exec_driver_sql('DELETE FROM shares WHERE id = 4')
        conn.exec_driver_sql('DELETE FROM users WHERE id = 3')
        if old_db.is_sqlite:
            conn.exec_driver_sql("INSERT INTO users (subject, email, name, avatar_url, is_admin, disabled, "
                                 "session_version, session_epoch, admin_source, created_at) "
                                 "VALUES ('local:new@x.io', 'new@x.io', '', '', false, false, 1, 'e', '', "
                                 "'2026-12-01')")
            conn.exec_driver_sql("INSERT INTO shares (image_id, user_id, created_at) VALUES (7, 2, '2026-12-01')")
    if not old_db.is_sqlite:
        return  # the app inserts through sequences there, which never go back
    assert scalar(old_db, "SELECT id FROM users WHERE email = 'new@x.io'") == 4
    assert scalar(old_db, 'SELECT max(id) FROM shares') == 5
    for table in ('users', 'prompts', 'images', 'api_tokens', 'shares'):
        assert 'AUTOINCREMENT' in str(scalar(old_db, f"SELECT sql FROM sqlite_master WHERE name = '{table}'"))
    assert scalar(old_db, 'PRAGMA foreign_keys') == 1  # back on for the app's own connections
    if scalar(old_db, "SELECT 1 FROM sqlite_master WHERE name = 'prompts_fts'"):
        with old_db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO prompts (user_id, prompt, task_type, image_size, aspect_ratio, "
                                 "num_images, model, estimated_cost, cost, status, submit_attempts, created_at, "
                                 "updated_at) VALUES (2, 'a zeppelin over fjords', 'TEXT_TO_IMAGE', 1024, '1:1', 1, "
                                 "'m', 0, 0, 'PENDING', 0, '2026-12-01', '2026-12-01')")
        found = sa.text("SELECT count(*) FROM prompts_fts WHERE prompts_fts MATCH :q")
        with old_db.engine.connect() as conn:
            assert conn.execute(found, {'q': '"zeppelin"'}).scalar() == 1  # the recreated insert trigger
            assert conn.execute(found, {'q': '"lighthouse"'}).scalar() == 1  # the old rows stay indexed
