"""Prompt search through the trigram indexes (migration 0002) on SQLite and PostgreSQL: the same rows as a plain
substring filter in Python for awkward input, with and without the index, and the migration over existing data.

Later revisions change `prompts` and `users` (0003 rebuilds them on SQLite, 0004 adds a column), so the rows these
tests insert need the head schema: "without the index" runs 0002's own downgrade and upgrade on a head database,
rather than walking the whole chain down to 0001 and inserting rows through today's models into yesterday's tables."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from nanogen.db import MIGRATIONS, Database
from nanogen.library import search as prompt_search
from nanogen.library.queries import ImageQuery, PromptQuery, count_prompts, list_images, list_prompts
from nanogen.models import Image, Prompt, User
from tests.support.library import add_user_row
from tests.support.paging import all_pages

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LONG = ' '.join(f'word{n} Alpha' for n in range(400))  # ~4,800 characters
TEXTS = [
    'A red FOX in snow', 'a cat, 100% fluffy', 'snake_case and a_b', r'back\slash and \% sign',
    'it\'s a "quoted" fox', 'NEAR the fox AND the cat OR NOT', 'fox* glob and prompt: fox {prompt}',
    'Crème brûlée ÉTÉ', 'naïve café', '東京の夜景', '🦊 fox emoji', '-fox ^fox (fox)', LONG,
]
TERMS = [
    '%', '_', '100%', 'a_b', '\\', '\\%', "'", "it's", '"', '""', '"quoted"', 'a "quoted" fox', '*', 'fox*',
    'NEAR', 'NEAR(fox cat)', 'fox AND cat', 'AND', 'OR', 'NOT', 'fox OR', '-fox', '^fox', '(fox)', 'prompt:',
    'prompt: fox', '{prompt}', ':', 'été', 'ÉTÉ', 'CAFÉ', 'café', 'crème', '東京', '夜景', '東京の夜景', '🦊', '🦊 fox',
    'a', 'fo', 'FOX',
    ' fox ', 'fox', 'zebra', 'x' * 5000, LONG[1000:3000].upper(), LONG, 'WORD39 alpha word4',
]


def _fold(text: str, sqlite: bool) -> str:
    # SQLite's lower() folds ASCII only; PostgreSQL's (C.UTF-8 here) folds every letter.
    return ''.join(c.lower() if c.isascii() else c for c in text) if sqlite else text.lower()


def _matches(text: str, term: str, sqlite: bool) -> bool:
    return not term.strip() or _fold(term.strip(), sqlite) in _fold(text, sqlite)


def search_migration(db: Database, action: str) -> None:
    """Run 0002's own upgrade or downgrade (the search index and nothing else) on this database."""
    cfg = Config()
    cfg.set_main_option('script_location', str(MIGRATIONS))
    module = ScriptDirectory.from_config(cfg).get_revision('0002').module
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        getattr(module, action)()


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option('script_location', str(MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())



def add_library(db: Database, user_id: int, copies: int = 3) -> dict[int, str]:
    """Each text `copies` times, 1–2 images per prompt, every fifth image soft-deleted; {image id: text}."""
    live: dict[int, str] = {}
    with db.session() as s:
        n = 0
        for copy in range(copies):
            for text in TEXTS:
                n += 1
                at = T0 + timedelta(minutes=n)
                prompt = Prompt(user_id=user_id, prompt=text, status='COMPLETED', cost=n, num_images=2, created_at=at)
                s.add(prompt)
                s.flush()
                assert prompt.id is not None
                for pos in range(1 + n % 2):
                    deleted = (n + pos) % 5 == 0
                    image = Image(user_id=user_id, prompt_id=prompt.id, position=pos, key=f'k{prompt.id}-{pos}',
                                  original_key='o', thumb_key='t', deleted_at=at if deleted else None,
                                  created_at=at if copy != 1 else T0)  # the middle copy ties on created_at
                    s.add(image)
                    s.flush()
                    if not deleted:
                        assert image.id is not None
                        live[image.id] = text
        s.commit()
    return live



async def check_every_term(db: Database, user_id: int, live: dict[int, str], texts: dict[int, str]) -> int:
    """Gallery, history and counts for every term equal the Python filter; returns how many terms matched something."""
    sqlite = db.is_sqlite
    found = 0
    for term in TERMS:
        want_images = {i for i, text in live.items() if _matches(text, term, sqlite)}
        want_prompts = {p for p, text in texts.items() if _matches(text, term, sqlite)}
        found += bool(want_images)
        for sort in ('newest', 'oldest'):
            got = await all_pages(lambda cursor, limit, term=term, sort=sort: list_images(
                db, user_id, ImageQuery(search=term, sort=sort), cursor=cursor, limit=limit), limit=4)
            keys = [(r.created_at, r.id) for r in got]
            assert keys == sorted(set(keys), reverse=sort == 'newest'), (term, sort)  # in order, none twice
            assert {r.id for r in got} == want_images, (term, sort)
        for sort in ('newest', 'cost'):
            got = await all_pages(lambda cursor, limit, term=term, sort=sort: list_prompts(
                db, user_id, PromptQuery(search=term, sort=sort), cursor=cursor, limit=limit), limit=5)
            assert sorted(p.id for p in got) == sorted(want_prompts), (term, sort)
        assert await count_prompts(db, user_id, PromptQuery(search=term)) == len(want_prompts), term
    return found


def prompt_texts(db: Database, user_id: int) -> dict[int, str]:
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.select(Prompt.id, Prompt.prompt).where(Prompt.user_id == user_id)).all())


@pytest.mark.parametrize('window', ['whole library', 'tiny'])
async def test_search_equals_a_python_filter_with_and_without_the_index(
        db: Database, window: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if window == 'tiny':  # a window of 4 rows: pages come from the window, or from the index when it holds too few
        monkeypatch.setattr(prompt_search, 'WINDOW_ROWS', 4)
        monkeypatch.setattr(prompt_search, 'WINDOW_PAGES', 1)
    ada, bob = add_user_row(db, 'ada@example.com'), add_user_row(db, 'bob@example.com')
    live = add_library(db, ada)
    add_library(db, bob, copies=1)  # the same texts for another user: never in ada's results
    texts = prompt_texts(db, ada)

    assert index_in_place(db)
    found = await check_every_term(db, ada, live, texts)
    assert found >= 30  # most awkward terms do match something: the comparison is not vacuous
    assert not {r.id for r in (await list_images(db, ada, ImageQuery(search='zebra'))).items}

    search_migration(db, 'downgrade')  # no index: the plain scan gives the same answers
    assert not index_in_place(db)
    assert await check_every_term(db, ada, live, texts) == found


def index_in_place(db: Database) -> bool:
    with db.engine.connect() as conn:
        if db.is_sqlite:
            return conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'prompts_fts'").first() is not None
        return conn.exec_driver_sql("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_prompts_prompt_trgm'"
                                    ).first() is not None


def uses_index(db: Database, term: str) -> bool:
    """Whether the database answers this search through its trigram index (the plan, not only the rows)."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            plan = conn.exec_driver_sql('EXPLAIN QUERY PLAN SELECT id FROM prompts WHERE user_id = 1 AND id IN '
                                        '(SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ?)',
                                        (prompt_search.fts_literal(term),)).all()
            return any('prompts_fts VIRTUAL TABLE' in str(row[-1]) for row in plan)
        conn.exec_driver_sql('SET LOCAL enable_seqscan = off')  # a tiny table: ask whether the index can serve
        plan = conn.exec_driver_sql('EXPLAIN SELECT id FROM prompts WHERE prompt ILIKE %s',
                                    (f'%{term}%',)).all()
        return any('ix_prompts_prompt_trgm' in row[0] for row in plan)


async def test_migration_indexes_existing_rows_keeps_in_step_and_downgrades(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.migrate()  # through Database.migrate: 0003 needs SQLite's foreign keys off
        search_migration(db, 'downgrade')
        assert not index_in_place(db)
        ada = add_user_row(db, 'ada@example.com')
        live = add_library(db, ada, copies=2)
        fox_ids = {i for i, text in live.items() if 'fox' in text.lower()}

        search_migration(db, 'upgrade')  # 0002 over a library that already has rows
        assert index_in_place(db) and uses_index(db, 'fox')
        got = await all_pages(lambda cursor, limit: list_images(db, ada, ImageQuery(search='FOX'), cursor=cursor,
                                                                limit=limit), limit=3)
        assert {r.id for r in got} == fox_ids
        if db.is_sqlite:  # the back-fill indexed every prompt, and the FTS table agrees with its content
            with db.engine.begin() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM prompts_fts WHERE prompts_fts MATCH '\"fox\"'"
                                            ).scalar() == len(prompt_ids(db, ada, 'fox'))
                conn.exec_driver_sql("INSERT INTO prompts_fts(prompts_fts, rank) VALUES ('integrity-check', 1)")

        # Inserts, text edits, status updates and deletes (direct and by cascade) keep the index in step.
        with db.engine.begin() as conn:
            first, second = prompt_ids(db, ada, 'red FOX')[:2]
            conn.execute(sa.update(Prompt.__table__).where(Prompt.__table__.c.id == first)  # type: ignore[attr-defined]
                         .values(prompt='an otter, upstream'))
            conn.execute(sa.update(Prompt.__table__).where(Prompt.__table__.c.id == second)  # type: ignore[attr-defined]
                         .values(status='FAILED'))
            conn.execute(sa.delete(Prompt.__table__).where(  # type: ignore[attr-defined]
                Prompt.__table__.c.prompt == 'naïve café'))  # type: ignore[attr-defined]
        bob = add_user_row(db, 'bob@example.com')
        add_library(db, bob, copies=1)
        assert prompt_ids(db, ada, 'otter') == [first] and await searched(db, ada, 'otter') == [first]
        assert first not in await searched(db, ada, 'red fox') and second in await searched(db, ada, 'red fox')
        assert await searched(db, ada, 'café') == [] and len(await searched(db, bob, 'café')) == 1
        with db.engine.begin() as conn:
            conn.execute(sa.delete(User.__table__).where(User.__table__.c.id == bob))  # type: ignore[attr-defined]
            if db.is_sqlite:
                conn.exec_driver_sql("INSERT INTO prompts_fts(prompts_fts, rank) VALUES ('integrity-check', 1)")
                assert conn.exec_driver_sql("SELECT count(*) FROM prompts_fts WHERE prompts_fts MATCH '\"snow\"'"
                                            ).scalar() == len(prompt_ids(db, ada, 'snow')) == 1

        search_migration(db, 'downgrade')
        assert not index_in_place(db)
        with db.engine.connect() as conn:
            leftovers = (conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name LIKE 'prompts_fts%'").all()
                         if db.is_sqlite else
                         conn.exec_driver_sql("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'").all())
        assert leftovers == []
        assert await searched(db, ada, 'otter') == [first]  # still searchable, by the plain scan

        search_migration(db, 'upgrade')  # and back up again over the same rows
        assert await searched(db, ada, 'OTTER') == [first] and uses_index(db, 'otter')
    finally:
        db.dispose()


def prompt_ids(db: Database, user_id: int, needle: str) -> list[int]:
    return sorted(p for p, text in prompt_texts(db, user_id).items() if needle.lower() in text.lower())


async def searched(db: Database, user_id: int, term: str) -> list[int]:
    prompts = await all_pages(lambda cursor, limit: list_prompts(db, user_id, PromptQuery(search=term),
                                                                 cursor=cursor, limit=limit), limit=50)
    return sorted(p.id for p in prompts)


async def test_postgres_role_that_may_not_create_extensions_still_migrates(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    role = f'nanogen_limited_{uuid.uuid4().hex[:8]}'
    admin = sa.create_engine(postgres_url.replace('postgresql://', 'postgresql+psycopg://', 1),
                             isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE {role} LOGIN')  # not a superuser, no CREATE on the database
        conn.exec_driver_sql(f'GRANT ALL ON SCHEMA public TO {role}')
    server, _, name = postgres_url.rpartition('/')
    db = Database(f'{server.replace("postgres@", f"{role}@", 1)}/{name}')
    try:
        with caplog.at_level(logging.WARNING, logger='nanogen.migrations'):
            db.migrate()  # does not raise
        warnings = [r for r in caplog.records if r.name == 'nanogen.migrations' and r.levelno == logging.WARNING]
        assert len(warnings) == 1 and 'pg_trgm' in warnings[0].getMessage()
        assert 'permission denied' in warnings[0].getMessage()
        assert not index_in_place(db)
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql('SELECT version_num FROM alembic_version').scalar() == head_revision()
        ada = add_user_row(db, 'ada@example.com')
        live = add_library(db, ada, copies=1)
        got = await list_images(db, ada, ImageQuery(search='fox'), limit=60)  # the plain scan, same answers
        assert {r.id for r in got.items} == {i for i, text in live.items() if 'fox' in text.lower()}
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY {role}')  # its tables and grants here, so the role can go
            conn.exec_driver_sql(f'DROP ROLE {role}')
        admin.dispose()
