"""The gallery's "group versions" query and version counts on SQLite and PostgreSQL (root_image_id's index), and
migration 0011 filling roots in for versions made before it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from nanogen.db import Database
from nanogen.library.queries import ImageQuery, image_rows, list_images
from nanogen.models import Image
from tests.integration.test_queries import add_prompt
from tests.support.library import add_user_row

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_version(db: Database, user_id: int, parent: int, root: int, text: str, at: datetime) -> int:
    _pid, [image_id] = add_prompt(db, user_id, text, at=at)
    with db.session() as s:
        row = s.get(Image, image_id)
        assert row is not None
        row.parent_image_id, row.root_image_id = parent, root
        s.add(row)
        s.commit()
    return image_id


async def test_grouped_versions_collapse_under_their_root_and_every_tile_counts_its_tree(db: Database) -> None:
    ada, bob = add_user_row(db, 'ada@x.io'), add_user_row(db, 'bob@x.io')
    _p, [root] = add_prompt(db, ada, 'a mug', at=T0)
    child = make_version(db, ada, root, root, 'logo on the mug', T0 + timedelta(minutes=1))
    grandchild = make_version(db, ada, child, root, 'stormy sky', T0 + timedelta(minutes=2))
    _p, [alone] = add_prompt(db, ada, 'a whale', at=T0 + timedelta(minutes=3))
    _p, [bobs] = add_prompt(db, bob, 'bob edits nothing of ada', at=T0 + timedelta(minutes=4))
    make_version(db, bob, bobs, bobs, 'bob version', T0 + timedelta(minutes=5))

    flat = (await list_images(db, ada, ImageQuery())).items
    assert [(r.id, r.version_count) for r in flat] == [(alone, 1), (grandchild, 3), (child, 3), (root, 3)]
    grouped = (await list_images(db, ada, ImageQuery(group_versions=True))).items
    assert [(r.id, r.version_count) for r in grouped] == [(alone, 1), (root, 3)]
    assert [r.version_count for r in await image_rows(db, ada, [child])] == [3]

    with db.session() as s:  # the root is deleted: its versions are not hidden with it
        row = s.get(Image, root)
        assert row is not None
        row.deleted_at = T0
        s.add(row)
        s.commit()
    grouped = (await list_images(db, ada, ImageQuery(group_versions=True))).items
    assert [(r.id, r.version_count) for r in grouped] == [(alone, 1), (grandchild, 2), (child, 2)]


def test_the_grouped_query_uses_the_root_index(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip('the plan is read from SQLite (PostgreSQL picks plans by table size)')
    with db.engine.connect() as conn:
        plan = ' '.join(str(r[-1]) for r in conn.exec_driver_sql(
            'EXPLAIN QUERY PLAN SELECT count(*) FROM images WHERE root_image_id IN (1, 2)'))
    assert 'ix_images_root_image_id' in plan


@pytest.fixture
def db_at_0008(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate('0008')
    with database.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (id, subject, email, name, avatar_url, is_admin, disabled, "
                             "session_version, session_epoch, created_at) "
                             "VALUES (2, 'local:ada@x.io', 'ada@x.io', 'Ada', '', false, false, 1, 'e', '2026-11-01')")
        conn.exec_driver_sql("INSERT INTO prompts (id, user_id, prompt, task_type, image_size, aspect_ratio, "
                             "num_images, model, estimated_cost, cost, status, submit_attempts, created_at, "
                             "updated_at) VALUES (5, 2, 'a mug', 'TEXT_TO_IMAGE', 1024, '1:1', 1, 'nanobanana', 0, "
                             "0.02, 'COMPLETED', 1, '2026-11-02', '2026-11-02')")
        for image_id, parent in ((7, None), (8, 7), (9, 8), (10, 9), (11, None), (12, 404)):
            conn.execute(sa.text(
                'INSERT INTO images (id, user_id, prompt_id, position, key, original_key, thumb_key, content_type, '
                "width, height, size_bytes, sha256, is_favourite, created_at, parent_image_id) VALUES (:id, 2, 5, "
                ":id, 'k', 'o', 't', 'image/png', 8, 8, 10, '', false, '2026-11-02', :parent)"),
                {'id': image_id, 'parent': parent})
    yield database
    database.dispose()


@pytest.mark.fresh_database  # starts at 0008
def test_0011_fills_in_the_root_of_every_existing_version(db_at_0008: Database) -> None:
    db_at_0008.migrate()
    with db_at_0008.engine.connect() as conn:
        roots = dict(conn.exec_driver_sql('SELECT id, root_image_id FROM images ORDER BY id').all())
    assert roots == {7: None, 8: 7, 9: 7, 10: 7, 11: None, 12: 404}  # 404: a purged parent ends the lineage there
