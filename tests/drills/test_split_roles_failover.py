"""Drill (issue 14 item 10): the reference topology with split roles, as processes. HAProxy in front of 2 web-only
replicas (NANOGEN_WORKER=false) and `python -m nanogen worker` processes, on the machine's PostgreSQL, moto's S3
server and the contract fake. Kill -9 one web replica AND a worker with 20 generations in flight: all 20 complete,
none is submitted twice (counted at the fake), and a real browser connected through the balancer is moved to the
surviving web replica, keeps its session and sees its generations finish.

Why two workers: in a split deployment the worker is the only thing that runs steps, so a lone worker is a single
point of failure for every generation, and a real deployment runs the worker tier with at least two replicas (it is
stateless and scales on its own, `deploy.replicas` in compose), rather than giving the web replicas a worker back:
web-only replicas stay lean and predictable under page load, and a web replica dying does not also take running steps
with it. So the cluster is web, web, worker, worker; one of each dies. The reference deployment (deploy/compose.yaml) runs one
worker with `restart: unless-stopped`; its variant here is web, web, worker: the lone worker dies with a web replica
and comes back as a new process (what the orchestrator's restart does), and the new worker picks up what the dead one
was running.

The provider answers record-info slowly (a wrapper around the fake), so check steps are *running* on both workers at
the kill: the dead worker's running steps keep their prompt's lock until procrastinate's stalled-job retry (the
`retry-stalled` periodic task, after NANOGEN_STALLED_AFTER_S without a heartbeat) hands them to the survivor. Without
that retry those prompts never finish, and this drill fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from selenium.webdriver.remote.webdriver import WebDriver

from nanogen.db import Database
from nanogen.models import Status
from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.drills import test_failover_browser as failover
from tests.drills.cluster import CLUSTER_KEY, Cluster, haproxy_binary, running, s3_settings
from tests.drills.conftest import DRILL_PROMPT, assert_not_double_billed
from tests.drills.test_failover_browser import badges, rows, sign_in_through, token_for, wait_until
from tests.support.s3 import moto_s3_server
from tests.support.servers import serve_asgi

GENERATIONS = 20
RECORD_INFO_DELAY_S = 1.5  # long enough that checks are running on both workers when one dies
pytestmark = pytest.mark.browser
browser = failover.browser  # the headless Chromium fixture of the browser failover drill


def slow_record_info(app: Any, delay_s: float) -> Any:
    """The fake behind a provider that takes `delay_s` to answer record-info (everything else as is)."""
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] == 'http' and scope['path'].endswith('/record-info'):
            await asyncio.sleep(delay_s)
        await app(scope, receive, send)
    return wrapped


@pytest.fixture
def slow_fake() -> Iterator[tuple[FakeProvider, str]]:
    provider = FakeProvider(FakeConfig(latency_s=6.0, send_callbacks=True, api_key='test-key-123456'))
    with serve_asgi(slow_record_info(provider.app, RECORD_INFO_DELAY_S)) as url:
        yield provider, url


def running_jobs(db: Database) -> dict[int, set[int]]:
    """procrastinate worker id -> ids of the jobs it is running now."""
    with db.engine.connect() as conn:
        found = conn.execute(sa.text("SELECT worker_id, id FROM procrastinate_jobs WHERE status = 'doing' "
                                     'AND worker_id IS NOT NULL')).all()
    held: dict[int, set[int]] = {}
    for worker_id, job_id in found:
        held.setdefault(worker_id, set()).add(job_id)
    return held


def heartbeats(db: Database) -> dict[int, float]:
    """procrastinate worker id -> seconds since its last heartbeat (database clock)."""
    with db.engine.connect() as conn:
        found = conn.execute(sa.text('SELECT id, EXTRACT(EPOCH FROM now() - last_heartbeat) FROM '
                                     'procrastinate_workers')).all()
    return {worker_id: float(age) for worker_id, age in found}


@pytest.mark.parametrize('roles', [('web', 'web', 'worker', 'worker'), ('web', 'web', 'worker')],
                         ids=['two-workers', 'lone-worker-restarted'])
def test_kill_9_of_a_web_replica_and_a_worker_with_twenty_in_flight(slow_fake, postgres_url: str, tmp_path: Path,
                                                                    browser: WebDriver, roles: tuple[str, ...]) -> None:
    workers = roles.count('worker')
    haproxy_binary()
    provider, provider_url = slow_fake
    settings: dict[str, object] = {
        'NANOBANANA_API_KEY': 'test-key-123456', 'NANOBANANA_BASE_URL': provider_url, 'NANOGEN_POLL_INITIAL': 0.5,
        'NANOGEN_POLL_MAX': 1.0, 'NANOGEN_MAX_CONCURRENT_PER_USER': GENERATIONS, 'NANOGEN_PROVIDER_CONCURRENCY': GENERATIONS,
        'NANOGEN_WORKER_HEARTBEAT_S': 0.5, 'NANOGEN_STALLED_AFTER_S': 3}
    with moto_s3_server() as s3, running(Cluster(tmp_path, postgres_url, roles=roles,
                                                 settings={**settings, **s3_settings(s3, 'split-drill')})) as cluster:
        assert cluster.balancer is not None
        db = Database(postgres_url)

        def logs() -> str:
            return '\n'.join(f'--- {r.log_path}\n{r.log_tail(1500)}' for r in cluster.replicas)

        doomed_index = sign_in_through(browser, cluster.balancer.url, logs)
        doomed_web, survivor = cluster.web[doomed_index], cluster.web[1 - doomed_index]
        doomed_worker = cluster.replicas[2]

        token = asyncio.run(token_for(db, 'ada@example.com'))
        with httpx.Client(base_url=survivor.url, headers={'Authorization': f'Bearer {token}'}, timeout=30) as api:
            for i in range(GENERATIONS):
                r = api.post('/api/v1/images/generate', json={'prompt': f'{DRILL_PROMPT}, {i}', 'size': 512})
                assert r.status_code == 202, r.text
        wait_until('the page to show them running',
                   lambda: badges(browser, 'Processing') == GENERATIONS, 30, logs)
        wait_until('checks running on every worker', lambda: len(running_jobs(db)) == workers, 30, logs)

        assert len(heartbeats(db)) == workers, 'only the worker processes run steps: the web replicas are web-only'
        held = running_jobs(db)
        doomed_web.kill9()
        doomed_worker.kill9()
        killed_at = time.monotonic()
        assert provider.submissions == GENERATIONS
        assert all(r.status == Status.PROCESSING.value for r in rows(db)), 'killed with all of them in flight'
        # Which procrastinate worker died: the one whose heartbeat stopped. It was running steps at the kill.
        wait_until('the dead worker to fall silent', lambda: sum(a > 1.5 for a in heartbeats(db).values()) == 1, 10,
                   logs)
        dead = next(w for w, age in heartbeats(db).items() if age > 1.5)
        assert held.get(dead), f'the killed worker ran no step at the kill: {held}'
        if workers == 1:  # nothing runs steps now: the orchestrator restarts the worker (a new process)
            doomed_worker.spawn()

        wait_until('all completed on screen', lambda: badges(browser, 'Completed') == GENERATIONS, 60, logs)
        recovered_s = time.monotonic() - killed_at
        moved = browser.get_cookie('SERVERID')
        assert moved is not None and moved['value'] == f'r{1 - doomed_index}', moved  # now on the survivor
        assert browser.current_url.endswith('/history'), 'still signed in: no detour through /login'
        done = rows(db)
        assert [r.status for r in done] == [Status.COMPLETED.value] * GENERATIONS, [r.error_message for r in done]
        assert provider.submissions == GENERATIONS  # the fake's own count: nothing was submitted twice
        assert_not_double_billed(CLUSTER_KEY, provider, done)
        assert all(r.suspect_submits == 0 for r in done)
        print(f'\n{len(held[dead])} running step(s) of the dead worker retried; all {GENERATIONS} on screen '
              f'{recovered_s:.1f} s after the kill')
        db.dispose()
