"""Drill: the database locked (SQLite) or restarted under the app (PostgreSQL); no generation is lost or resent."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from nanogen.generation.requests import validate_request
from nanogen.models import Status
from tests.conftest import make_settings
from tests.drills.conftest import (
    DRILL_PROMPT,
    add_user,
    all_prompts,
    assert_costs,
    assert_not_double_billed,
    wait_all_ended,
)

GENERATIONS = 20


def hold_exclusive_lock(path: Path, seconds: float, held: threading.Event) -> None:
    """Another process's writer: BEGIN EXCLUSIVE and sit on it."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute('BEGIN EXCLUSIVE')
        held.set()
        time.sleep(seconds)
        conn.execute('COMMIT')
    finally:
        conn.close()


async def test_sqlite_locked_mid_submit_and_mid_flight_loses_nothing_and_resends_nothing(
        fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    # Every submit takes 1 s to answer, so a lock taken meanwhile lands between "provider accepted" and "task id
    # saved": the riskiest moment for double billing.
    cfg = provider.config
    cfg.latency_s, cfg.send_callbacks, cfg.timeout_rate, cfg.hang_s = 1.5, False, 1.0, 1.0
    db_path = isolated_env / 'drill.db'
    settings = make_settings(isolated_env, f'sqlite:///{db_path}', url, NANOGEN_PROVIDER_TIMEOUT=5,
                             NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS, NANOGEN_POLL_INITIAL=0.2,
                             NANOGEN_POLL_MAX=0.5)
    services = await make_services(settings, start=False)

    @sa.event.listens_for(services.db.engine, 'connect')
    def _impatient(dbapi_conn: Any, _record: Any) -> None:
        # Give up on a lock after 0.3 s instead of 30 s, so the drill sees OperationalError rather than waiting.
        dbapi_conn.execute('PRAGMA busy_timeout=300')

    await services.start()
    uid = await add_user(services)
    ids = [(await services.generation.create(uid, validate_request(prompt=DRILL_PROMPT, size=512))).id
           for _ in range(GENERATIONS)]
    for delay in (0.4, 1.5):  # once while submits are in the air, once while tasks run at the provider
        await asyncio.sleep(delay)
        held = threading.Event()
        locker = asyncio.create_task(asyncio.to_thread(hold_exclusive_lock, db_path, 2.5, held))
        while not held.is_set():
            await asyncio.sleep(0.01)
        await locker

    rows = await wait_all_ended(services, ids, timeout=60)

    assert [r.status for r in rows] == [Status.COMPLETED.value] * GENERATIONS, [r.error_message for r in rows]
    assert provider.submissions == GENERATIONS
    assert_costs(services, rows)
    assert_not_double_billed(services, provider, rows)


async def test_postgres_backends_terminated_mid_run_loses_nothing(fake, make_services, isolated_env: Path,
                                                                  postgres_url: str) -> None:
    provider, url = fake
    provider.config.latency_s, provider.config.send_callbacks = 1.5, False
    settings = make_settings(isolated_env, postgres_url, url, NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS,
                             NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.5)
    services = await make_services(settings, start=False)
    await services.start()
    uid = await add_user(services)
    ids = [(await services.generation.create(uid, validate_request(prompt=DRILL_PROMPT, size=512))).id
           for _ in range(GENERATIONS)]
    admin = sa.create_engine(postgres_url.replace('postgresql://', 'postgresql+psycopg://', 1),
                             isolation_level='AUTOCOMMIT', poolclass=sa.pool.NullPool)
    name = postgres_url.rsplit('/', 1)[1]
    killed = 0
    try:
        for delay in (0.3, 1.0, 1.0):  # a database restart, as the app sees it: every connection dropped
            await asyncio.sleep(delay)

            def terminate() -> int:
                with admin.connect() as conn:
                    return len(conn.execute(sa.text(
                        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                        'WHERE datname = :name AND pid <> pg_backend_pid()'), {'name': name}).all())
            killed += await asyncio.to_thread(terminate)
    finally:
        admin.dispose()

    rows = await wait_all_ended(services, ids, timeout=60)

    assert killed > 0
    assert [r.status for r in rows] == [Status.COMPLETED.value] * GENERATIONS, [r.error_message for r in rows]
    assert provider.submissions == GENERATIONS
    assert_costs(services, rows)
    assert_not_double_billed(services, provider, rows)
    assert await all_prompts(services, ids)  # and the app still talks to the database afterwards
