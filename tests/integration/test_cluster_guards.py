"""Start-up guards for several processes (issue 14 items 3, 7, 8), in-process: the key fingerprint, the data-dir lock's
re-entrancy, and the shared API rate limit on real Redis and PostgreSQL.
The same behaviours across real processes are drilled in tests/drills/test_cluster_drills.py."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nanogen.accounts.ratelimit import RateLimiter, build_rate_limiter
from nanogen.cluster import FINGERPRINT_FACT, DataDirLock, key_fingerprint
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import ConfigError, RateLimited
from tests.conftest import make_settings
from tests.support.redis_server import REDIS_URL, require_redis

KEY_A = 'first-key-' + 'a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV'
KEY_B = 'other-key-' + 'Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1HgFeD'


async def test_a_replica_with_another_secret_key_is_refused_without_printing_it(
        make_services: Any, isolated_env: Path, database_url: str) -> None:
    first = await make_services(make_settings(isolated_env, database_url, 'http://p.test', NANOGEN_SECRET_KEY=KEY_A))
    with first.db.session() as s:
        stored = s.connection().execute(sa.text('SELECT value FROM cluster_facts WHERE name = :n'),
                                        {'n': FINGERPRINT_FACT}).scalar_one()
    assert stored == key_fingerprint(KEY_A) and KEY_A not in stored
    await first.stop()

    other = await make_services(make_settings(isolated_env, database_url, 'http://p.test', NANOGEN_SECRET_KEY=KEY_B),
                                start=False)
    with pytest.raises(ConfigError) as err:
        other.migrate()
    message = str(err.value)
    assert 'NANOGEN_SECRET_KEY is not the key this database was first started with' in message
    assert KEY_B not in message and KEY_A not in message
    assert 'NANOGEN_SECRET_KEY_ROTATE' in message

    same = await make_services(make_settings(isolated_env, database_url, 'http://p.test', NANOGEN_SECRET_KEY=KEY_A),
                               start=False)
    same.migrate()  # the first key is still welcome


async def test_rotating_the_key_on_purpose_makes_the_old_one_refused(
        make_services: Any, isolated_env: Path, database_url: str) -> None:
    await make_services(make_settings(isolated_env, database_url, 'http://p.test', NANOGEN_SECRET_KEY=KEY_A),
                        start=False)
    (await make_services(make_settings(isolated_env, database_url, 'http://p.test', NANOGEN_SECRET_KEY=KEY_A),
                         start=False)).migrate()
    rotated = await make_services(make_settings(isolated_env, database_url, 'http://p.test', NANOGEN_SECRET_KEY=KEY_B,
                                                NANOGEN_SECRET_KEY_ROTATE=True), start=False)
    rotated.migrate()
    old = await make_services(make_settings(isolated_env, database_url, 'http://p.test', NANOGEN_SECRET_KEY=KEY_A),
                              start=False)
    with pytest.raises(ConfigError):
        old.migrate()


def test_the_data_dir_lock_is_reentrant_in_one_process_and_released_by_the_last_holder(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path / 'd').acquire()
    second = DataDirLock(tmp_path / 'd').acquire()  # tests build two apps on one dir: allowed in-process
    first.release()
    first.release()  # releasing twice is a no-op, not a second decrement
    assert (tmp_path / 'd' / 'nanogen.lock').read_text().strip().isdigit()
    second.release()
    again = DataDirLock(tmp_path / 'd').acquire()  # nothing held: taken afresh
    again.release()


async def test_services_take_the_lock_on_sqlite_and_release_it_on_stop(make_services: Any, isolated_env: Path) -> None:
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', 'http://p.test')
    services = await make_services(settings, start=False)
    assert services.data_dir_lock is not None
    from nanogen.cluster import _held
    path = (isolated_env / 'nanogen.lock').resolve()
    assert _held[path].count >= 1
    await services.stop()
    assert path not in _held


def _limiters(kind: str, url: str) -> tuple[list[RateLimiter], list[Database]]:
    """Two limiters as two replicas build them: each its own engine or Redis connection, one namespace."""
    namespace = uuid.uuid4().hex[:12]
    dbs = [Database(url) for _ in range(2)]
    extra = {'NANOGEN_REDIS_URL': REDIS_URL} if kind == 'redis' else {}
    settings = Settings(NANOGEN_API_RATE_PER_MINUTE=3, NANOGEN_DATABASE_URL=url, **extra)  # type: ignore[arg-type]
    return [build_rate_limiter(settings, db, namespace=namespace) for db in dbs], dbs


@pytest.mark.parametrize('kind', ['redis', 'postgres'])
async def test_two_replicas_share_one_api_rate_limit(kind: str, postgres_url: str) -> None:
    if kind == 'redis':
        require_redis()
    Database(postgres_url).migrate()
    (a, b), dbs = _limiters(kind, postgres_url)
    assert a.shared and b.shared
    assert type(a.storage).__name__ == ('RedisStorage' if kind == 'redis' else 'PostgresWindows')
    await a.acquire(5)
    await b.acquire(5)
    await a.acquire(5)
    with pytest.raises(RateLimited) as err:
        await b.acquire(5)  # the other replica's hits count
    assert 1 <= err.value.retry_after <= 60
    await b.acquire(6)  # another user has their own allowance
    for db in dbs:
        db.dispose()


def test_the_postgres_window_starts_over_when_it_expires(postgres_url: str) -> None:
    db = Database(postgres_url)
    db.migrate()
    limiter = build_rate_limiter(Settings(NANOGEN_API_RATE_PER_MINUTE=1, NANOGEN_DATABASE_URL=postgres_url),
                                 db, namespace='w')  # type: ignore[arg-type]
    limiter.hit(1)
    with pytest.raises(RateLimited):
        limiter.hit(1)
    with db.engine.begin() as conn:  # the database clock moves on: the window is over
        conn.execute(sa.text("UPDATE api_rate_windows SET expires_at = now() - interval '1 second'"))
    limiter.hit(1)
    with pytest.raises(RateLimited):
        limiter.hit(1)
    db.dispose()


def test_sqlite_without_redis_counts_in_memory(tmp_path: Path) -> None:
    db = Database(f'sqlite:///{tmp_path / "m.db"}')
    limiter = build_rate_limiter(Settings(), db, namespace='m')
    assert not limiter.shared
    db.dispose()
