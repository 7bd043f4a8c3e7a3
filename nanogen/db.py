"""Engine and session factories, and Alembic migrations; nothing happens at import time."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlmodel import Session

from nanogen import pools

log = logging.getLogger(__name__)
T = TypeVar('T')
MIGRATIONS = Path(__file__).parent / 'migrations'


def _private_sqlite_files(path: Path) -> None:
    """The database, its WAL and shared-memory files hold every prompt and session: owner-only."""
    for name in (path, path.with_name(path.name + '-wal'), path.with_name(path.name + '-shm')):
        try:
            if name.exists() and name.stat().st_mode & 0o077:
                name.chmod(0o600)
        except OSError:  # not ours to change (e.g. a read-only mount): SQLite still works
            log.warning('could not make %s private', name.name)


def make_engine(url: str) -> sa.Engine:
    if url.startswith('sqlite'):
        db_path: Path | None = None
        if url.startswith('sqlite:///') and ':memory:' not in url:
            db_path = Path(url.removeprefix('sqlite:///'))
            db_path.parent.mkdir(parents=True, exist_ok=True)
            if not db_path.exists():  # create it 0600 before SQLite does (SQLite uses the umask)
                os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT, 0o600))
        engine = sa.create_engine(url, connect_args={'check_same_thread': False, 'timeout': 30},
                                  pool_size=8, max_overflow=8)

        @sa.event.listens_for(engine, 'connect')
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, open transactions, so BEGIN IMMEDIATE works for atomic budget checks.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute('PRAGMA journal_mode=WAL')
            cur.execute('PRAGMA synchronous=NORMAL')
            cur.execute('PRAGMA foreign_keys=ON')
            cur.execute('PRAGMA busy_timeout=30000')
            cur.close()
            if db_path is not None:  # WAL/SHM files appear on the first connection; SQLite copies the db's mode
                _private_sqlite_files(db_path)

        @sa.event.listens_for(engine, 'begin')
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql('BEGIN IMMEDIATE' if conn.info.get('immediate') else 'BEGIN')

        return engine
    if url.startswith('postgresql://'):
        url = 'postgresql+psycopg://' + url.removeprefix('postgresql://')
    elif url.startswith('postgres://'):
        url = 'postgresql+psycopg://' + url.removeprefix('postgres://')
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """Owns the engine; hands out sessions; runs blocking DB work off the event loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == 'sqlite'

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write_lock_session(self) -> Iterator[Session]:
        """A session whose transaction takes the write lock at once (SQLite: BEGIN IMMEDIATE; PostgreSQL locks rows
        as they are written, and callers lock what they read-then-write with FOR UPDATE)."""
        if not self.is_sqlite:
            with self.session() as session:
                yield session
            return
        with self.engine.connect() as conn:
            conn.info['immediate'] = True  # read by the 'begin' listener in make_engine
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    yield session
            finally:
                try:
                    conn.info.pop('immediate', None)  # so a later read on this pooled connection begins plainly
                except sa.exc.SQLAlchemyError:
                    pass  # an invalidated connection is discarded by the pool anyway

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run `fn(session)` in a worker thread, so the event loop never waits on the database."""
        def work() -> T:
            with self.session() as session:
                return fn(session)
        return await pools.in_db(work)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Like `run`, for work that writes: the transaction takes the write lock up front, so SQLite never has
        to upgrade a read snapshot to a write (which fails at once with 'database is locked' under WAL)."""
        def work() -> T:
            with self.write_lock_session() as session:
                return fn(session)
        return await pools.in_db(work)

    def migrate(self, revision: str = 'head') -> None:
        """Bring the schema to the newest revision (never drops data); tests may stop at an older `revision`."""
        cfg = Config()
        cfg.set_main_option('script_location', str(MIGRATIONS))
        with self.engine.connect() as conn:
            # SQLite can only change some table options by recreating the table (0003); with foreign keys on, dropping
            # `users` would cascade-delete every row that points at it. The pragma is a no-op inside a transaction,
            # so it is set on the driver connection before the migration's transaction begins.
            raw = conn.connection.driver_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute('PRAGMA foreign_keys=OFF')
            try:
                with conn.begin():
                    cfg.attributes['connection'] = conn
                    command.upgrade(cfg, revision)
            finally:
                if raw is not None:
                    raw.execute('PRAGMA foreign_keys=ON')
        log.info('database schema is up to date')

    def ping(self) -> bool:
        with self.engine.connect() as conn:
            conn.exec_driver_sql('SELECT 1')
        return True

    def dispose(self) -> None:
        self.engine.dispose()
