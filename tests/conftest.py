"""Shared fixtures: an isolated environment per test, real databases, the contract fake over real HTTP."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from nanogen.bootstrap import Services, build_services
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.support.servers import serve_asgi

PG_ADMIN_URL = os.environ.get('NANOGEN_TEST_POSTGRES_URL', '')
ENV_PREFIXES = ('NANOGEN_', 'NANOBANANA_', 'R2_', 'GOOGLE_')


_DATABASES_TO_DROP: list[str] = []


@pytest.fixture(autouse=True)
def drop_test_databases() -> Iterator[None]:
    """Drops this test's PostgreSQL databases last, after every fixture that runs services on them has stopped
    (`isolated_env`, which `make_services` needs, needs this one): dropped first, a stopping job engine waited out
    its connect timeout for a database that was gone (seconds per test)."""
    yield
    if not _DATABASES_TO_DROP:
        return
    admin = sa.create_engine(PG_ADMIN_URL.replace('postgresql://', 'postgresql+psycopg://', 1), isolation_level='AUTOCOMMIT')
    try:
        with admin.connect() as conn:
            while _DATABASES_TO_DROP:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS {_DATABASES_TO_DROP.pop()} WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drop_test_databases: None,
                 request: pytest.FixtureRequest) -> Path:
    """Every test starts from the embedded defaults in its own data dir, fast enough for tests."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES) and key != 'NANOGEN_TEST_POSTGRES_URL':
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # so no stray .env file is read
    data = tmp_path / 'data'
    monkeypatch.setenv('NANOGEN_DATA_DIR', str(data))
    if request.node.path.parent.name in ('ui', 'browser') and not request.node.get_closest_marker('fresh_database'):
        copy_migrated_sqlite(data / 'nanogen.db')  # the app's default database, already at head
    monkeypatch.setenv('NANOGEN_DEMO_LATENCY', '0.4')
    monkeypatch.setenv('NANOGEN_POLL_INITIAL', '0.1')
    monkeypatch.setenv('NANOGEN_POLL_MAX', '0.3')
    return data


@pytest.fixture(autouse=True)
def fresh_app_lifespan() -> Iterator[None]:
    """FastAPI's include_router nests the app's lifespan once per call, and NiceGUI's reset between `user` tests
    does not undo it: without this, every app.py load deepens the nesting until a RecursionError ~100 tests in."""
    from nicegui import app
    original = app.router.lifespan_context
    yield
    app.router.lifespan_context = original


@functools.cache
def _postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None; asked once per run (a dead server costs a timeout)."""
    if not PG_ADMIN_URL:
        return 'NANOGEN_TEST_POSTGRES_URL is not set'
    url = sa.make_url(PG_ADMIN_URL.replace('postgresql://', 'postgresql+psycopg://', 1))
    probe = sa.create_engine(url, connect_args={'connect_timeout': 5})
    try:
        with probe.connect() as conn:
            conn.exec_driver_sql('SELECT 1')
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, 'orig', None) or exc).strip().splitlines()[0]
        return f'no PostgreSQL server answers at {url.render_as_string(hide_password=True)} ({reason})'
    finally:
        probe.dispose()
    return None


def _require_postgres() -> None:
    """Outside CI the PostgreSQL tests skip, saying why; in CI (CI=true) they must run, so they fail instead."""
    if (problem := _postgres_problem()) is None:
        return
    if os.environ.get('CI', '').lower() in ('true', '1'):
        pytest.fail(f'CI=true: the PostgreSQL tests must run, but {problem}', pytrace=False)
    pytest.skip(f'PostgreSQL test skipped: {problem}')


# Most tests start from a database at head. Migrating each one from scratch cost 0.5-3 s a test (alembic runs every
# revision); instead each test process migrates one template per kind once and copies it. Tests of the migrations
# themselves, of file modes or of an empty database opt out with @pytest.mark.fresh_database (the `postgres_url`
# fixture and the app's own data dirs outside tests/ui always start empty).
@functools.cache
def _sqlite_migrated_template() -> bytes:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / 'template.db'
        database = Database(f'sqlite:///{path}')
        database.migrate()
        with database.engine.connect() as conn:  # one file, no -wal beside it
            conn.exec_driver_sql('PRAGMA wal_checkpoint(TRUNCATE)')
        database.dispose()
        return path.read_bytes()


def copy_migrated_sqlite(path: Path) -> None:
    """Write a SQLite database at head to `path`, owner-only as the app creates it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as out:
        out.write(_sqlite_migrated_template())


@functools.cache
def _pg_migrated_template() -> str:
    """This process's PostgreSQL template at head (our migrations and procrastinate's schema), dropped at exit."""
    import atexit

    from nanogen.generation.engine import apply_schema
    name = f'nanogen_template_{uuid.uuid4().hex[:12]}'
    admin = sa.create_engine(PG_ADMIN_URL.replace('postgresql://', 'postgresql+psycopg://', 1),
                             isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE {name}')
    base, _, _ = PG_ADMIN_URL.rpartition('/')
    database = Database(f'{base}/{name}')
    database.migrate()
    apply_schema(database)
    database.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
        admin.dispose()
    atexit.register(drop)
    return name


def _pg_database(*, migrated: bool = False) -> Iterator[str]:
    """A new, empty PostgreSQL database, or (`migrated`) a copy of one already at head (CREATE DATABASE ... TEMPLATE
    is a file copy: far quicker than running every migration again for each test)."""
    _require_postgres()
    name = f'nanogen_test_{uuid.uuid4().hex[:12]}'
    template = f' TEMPLATE {_pg_migrated_template()}' if migrated else ''
    admin_url = PG_ADMIN_URL.replace('postgresql://', 'postgresql+psycopg://', 1)
    admin = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE {name}{template}')
    admin.dispose()
    _DATABASES_TO_DROP.append(name)  # by `drop_test_databases`, once the services on it have stopped
    base, _, _ = PG_ADMIN_URL.rpartition('/')
    yield f'{base}/{name}'


@pytest.fixture(params=['sqlite', 'postgres'])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each database test runs on SQLite and, when NANOGEN_TEST_POSTGRES_URL is set, on PostgreSQL."""
    migrated = not request.node.get_closest_marker('fresh_database')
    if request.param == 'sqlite':
        if migrated:
            copy_migrated_sqlite(tmp_path / 'test.db')
        yield f'sqlite:///{tmp_path / "test.db"}'
    else:
        yield from _pg_database(migrated=migrated)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database on each of SQLite and (when configured) PostgreSQL."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _pg_database()


@pytest.fixture
def fake() -> Iterator[tuple[FakeProvider, str]]:
    """The contract fake served over real HTTP; yields (provider, base_url)."""
    provider = FakeProvider(FakeConfig(latency_s=0.3, send_callbacks=True, api_key='test-key-123456'))
    with serve_asgi(provider.app) as url:
        yield provider, url


def make_settings(data_dir: Path, database_url: str, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        NANOGEN_DATA_DIR=str(data_dir), NANOGEN_DATABASE_URL=database_url, NANOBANANA_API_KEY='test-key-123456',
        NANOBANANA_BASE_URL=base_url, NANOGEN_POLL_INITIAL=0.1, NANOGEN_POLL_MAX=0.3, NANOGEN_PROVIDER_RETRIES=3)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def make_services(isolated_env: Path) -> AsyncIterator[Any]:
    """Builds started Services against whatever settings a test gives; stops them all afterwards."""
    built: list[Services] = []

    async def factory(settings: Settings, *, start: bool = True, **kw: Any) -> Services:
        kw.setdefault('http', httpx.AsyncClient(timeout=settings.provider_timeout_s))  # a real client, not the demo's
        services = build_services(settings, **kw)
        if start:
            await services.start()
        built.append(services)
        return services

    yield factory
    for services in built:
        await services.stop()
