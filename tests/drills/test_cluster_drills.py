"""Drills on the topology as processes (issue 14 items 3, 7, 8, 10): replicas starting together on an empty database,
a replica with another secret key, a second process on one SQLite data dir, and the API rate limit across replicas."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from nanogen.accounts.tokens import TokenService
from nanogen.accounts.users import UserService
from nanogen.cluster import key_fingerprint
from nanogen.config import Settings
from nanogen.db import Database
from tests.drills.app_process import AppProcess
from tests.drills.cluster import CLUSTER_KEY, Cluster, running
from tests.support.redis_server import REDIS_URL, require_redis

OTHER_KEY = 'drill-other-key-Qm4Wn8Ez2Rx6Tc1Yv5Ub9Ik3Ol7Pj0Ah'
SCHEMA_LINE = 'database schema is up to date'


def test_four_replicas_starting_together_on_an_empty_database_all_come_up(postgres_url: str, tmp_path: Path) -> None:
    """Without the migration lock one of four crashed with UniqueViolation in 2 of 4 trials; each runs them once."""
    with running(Cluster(tmp_path, postgres_url, roles=('app',) * 4), balancer=False) as cluster:
        for replica in cluster.replicas:
            assert httpx.get(f'{replica.url}/readyz', timeout=5).status_code == 200, replica.log_tail()
            assert replica.log_tail(100_000).count(SCHEMA_LINE) == 1, replica.log_tail()  # once per start
    db = Database(postgres_url)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text('SELECT count(*) FROM cluster_facts')).scalar_one() == 1
    db.dispose()


def test_a_replica_with_another_secret_key_refuses_to_start_and_never_prints_it(postgres_url: str,
                                                                                 tmp_path: Path) -> None:
    with running(Cluster(tmp_path, postgres_url, roles=('app',)), balancer=False):
        stranger = AppProcess(tmp_path / 'stranger', NANOGEN_DATABASE_URL=postgres_url, NANOGEN_SECRET_KEY=OTHER_KEY)
        stranger.spawn()
        assert stranger.wait_exit(60) == 2
        said = stranger.log_tail(100_000)
        assert 'NANOGEN_SECRET_KEY is not the key this database was first started with' in said
        assert 'Traceback' not in said
        assert OTHER_KEY not in said and CLUSTER_KEY not in said


def test_a_second_process_on_one_sqlite_data_dir_is_refused_until_the_first_dies(tmp_path: Path) -> None:
    first = AppProcess(tmp_path / 'data')
    second = AppProcess(tmp_path / 'data')
    first.start()
    try:
        second.spawn()
        assert second.wait_exit(60) == 2
        said = second.log_tail()
        assert 'another nanogen process' in said and f'(pid {first.proc.pid})' in said, said  # type: ignore[union-attr]
        first.kill9()  # the kernel drops the lock with the process
        second.log_path.unlink()
        second.start()
        assert httpx.get(f'{second.url}/healthz', timeout=5).status_code == 200
    finally:
        second.stop()
        first.stop()


async def _token(database_url: str) -> str:
    db = Database(database_url)
    try:
        users = UserService(db, Settings(NANOGEN_DATABASE_URL=database_url))  # type: ignore[call-arg]
        user = await users.sign_in(subject='local:rate@example.com', email='rate@example.com', name='Rate')
        assert user.id is not None
        return (await TokenService(db).create(user.id, 'drill')).secret
    finally:
        db.dispose()


@pytest.mark.parametrize('counter', ['postgres', 'redis'])
def test_the_api_rate_limit_is_one_budget_across_two_replicas(counter: str, postgres_url: str, tmp_path: Path) -> None:
    settings: dict[str, object] = {'NANOGEN_API_RATE_PER_MINUTE': 4}
    redis = require_redis() if counter == 'redis' else None
    if redis is not None:
        # A key of its own: the counters' namespace comes from the key, and Redis outlives this test's database.
        settings.update(NANOGEN_REDIS_URL=REDIS_URL, NANOGEN_SECRET_KEY=f'drill-{uuid.uuid4().hex}-{uuid.uuid4().hex}')
    with running(Cluster(tmp_path, postgres_url, settings=settings), balancer=False) as cl:
        token = asyncio.run(_token(postgres_url))
        headers = {'Authorization': f'Bearer {token}'}
        a, b = cl.replicas
        answers = [httpx.get(f'{replica.url}/api/v1/me', headers=headers, timeout=10).status_code
                   for replica in (a, b, a, b)]
        assert answers == [200] * 4
        refused = httpx.get(f'{a.url}/api/v1/me', headers=headers, timeout=10)
        assert refused.status_code == 429, refused.text  # per replica, a would still have 2 left
        assert 1 <= int(refused.headers['retry-after']) <= 60
    if redis is not None:  # counted in Redis, not in the database's table
        namespace = key_fingerprint(str(settings['NANOGEN_SECRET_KEY']))[:12]
        assert redis.keys(f'nanogen-rate*{namespace}*'), 'no counter in Redis'
