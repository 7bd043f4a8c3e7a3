"""Migration 0015 (the old lease engine's columns dropped) on a database that already holds data: nothing else lost;
on SQLite, where the batch recreates `prompts`, ids stay never-reused and the search triggers are back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from nanogen.db import Database

pytestmark = pytest.mark.fresh_database  # these tests start from revision 0013

ROWS = [
    "INSERT INTO users (id, subject, email, name, avatar_url, is_admin, disabled, session_version, session_epoch, "
    "admin_source, created_at) VALUES (2, 'local:ada@x.io', 'ada@x.io', 'Ada', '', false, false, 1, 'e', '', "
    "'2026-11-01')",
    "INSERT INTO prompts (id, user_id, prompt, task_type, image_size, aspect_ratio, num_images, model, "
    "estimated_cost, cost, status, submit_attempts, finish_attempts, suspect_submits, lease_owner, lease_expires_at, "
    "created_at, updated_at) VALUES (5, 2, 'a lighthouse at dusk', 'TEXT_TO_IMAGE', 1024, '1:1', 1, 'nanobanana', 0, "
    "0.02, 'COMPLETED', 1, 1, 0, 'old-replica', '2026-11-02', '2026-11-02', '2026-11-02'), "
    "(6, 2, 'a lost kite', 'TEXT_TO_IMAGE', 1024, '1:1', 1, 'nanobanana', 0, 0, 'FAILED', 1, 0, 0, NULL, NULL, "
    "'2026-11-02', '2026-11-02')",
    "INSERT INTO images (id, user_id, prompt_id, position, key, original_key, thumb_key, content_type, width, height, "
    "size_bytes, sha256, is_favourite, created_at) "
    "VALUES (7, 2, 5, 0, 'k', 'o', 't', 'image/png', 8, 8, 10, '', true, '2026-11-02')",
    'UPDATE prompts SET image_id = 7 WHERE id = 5',
]


@pytest.fixture
def old_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate('0014')
    with database.engine.begin() as conn:
        for statement in ROWS:
            conn.exec_driver_sql(statement)
    yield database
    database.dispose()


def test_0015_drops_the_lease_columns_and_keeps_every_row(old_db: Database) -> None:
    old_db.migrate()
    columns = {c['name'] for c in sa.inspect(old_db.engine).get_columns('prompts')}
    assert 'lease_owner' not in columns and 'lease_expires_at' not in columns
    assert {'claim_token', 'claimed_at', 'released_at'} <= columns
    with old_db.engine.connect() as conn:
        assert conn.exec_driver_sql('SELECT id, image_id, status FROM prompts ORDER BY id').all() == [
            (5, 7, 'COMPLETED'), (6, None, 'FAILED')]
        assert conn.exec_driver_sql('SELECT prompt_id FROM images WHERE id = 7').scalar() == 5  # no cascade ran
    if not old_db.is_sqlite:
        return
    with old_db.engine.connect() as conn:
        assert 'AUTOINCREMENT' in conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'prompts'").scalar()
        assert conn.exec_driver_sql('PRAGMA foreign_keys').scalar() == 1  # back on for the app's own connections
        if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'prompts_fts'").first() is None:
            return  # this SQLite has no trigram tokenizer: search is a plain scan, no triggers to keep
    with old_db.engine.begin() as conn:
        conn.exec_driver_sql('DELETE FROM prompts WHERE id = 6')
        conn.exec_driver_sql("INSERT INTO prompts (user_id, prompt, task_type, image_size, aspect_ratio, num_images, "
                             "model, estimated_cost, cost, status, submit_attempts, finish_attempts, suspect_submits, "
                             "created_at, updated_at) VALUES (2, 'a zeppelin over fjords', 'TEXT_TO_IMAGE', 1024, "
                             "'1:1', 1, 'm', 0, 0, 'PENDING', 0, 0, 0, '2026-12-01', '2026-12-01')")
        conn.exec_driver_sql("UPDATE prompts SET prompt = 'a lighthouse at dawn' WHERE id = 5")
    found = sa.text("SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH :q")
    with old_db.engine.connect() as conn:
        assert conn.execute(found, {'q': '"zeppelin"'}).scalars().all() == [7]  # insert trigger; id 6 not reused
        assert conn.execute(found, {'q': '"dawn"'}).scalars().all() == [5]  # update trigger
        assert conn.execute(found, {'q': '"dusk"'}).scalars().all() == []
        assert conn.execute(found, {'q': '"kite"'}).scalars().all() == []  # delete trigger
