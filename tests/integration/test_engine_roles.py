"""Roles (issue 14 item 2): a web-only replica defers, a worker-only process runs the steps and its events still
reach the web replica's pages (through the relay); a web-only replica on SQLite is refused at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nanogen.config import Settings
from nanogen.errors import ConfigError
from nanogen.events import PromptEvent
from nanogen.generation.requests import validate_request
from nanogen.models import Status
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status


async def test_web_only_replica_defers_and_a_worker_only_process_finishes_and_tells_its_pages(
        fake, make_services, isolated_env: Path, postgres_url: str) -> None:
    provider, url = fake
    provider.config.send_callbacks = False
    web = await make_services(make_settings(isolated_env, postgres_url, url, NANOGEN_WORKER=False), worker_id='web')
    assert not web.generation.engine.worker_running  # a web-only replica runs no step
    await asyncio.wait_for(web.relay.ready.wait(), 10)
    heard: list[PromptEvent] = []
    web.bus.subscribe(heard.append)  # what a page on the web replica listens to
    uid = await add_user(web)
    prompt = await web.generation.create(uid, validate_request(prompt='made elsewhere', size=512))
    await asyncio.sleep(0.5)
    assert (await web.db.run(lambda s: s.get(type(prompt), prompt.id))).status == Status.PENDING.value

    worker = await make_services(make_settings(isolated_env, postgres_url, url), worker_id='worker')
    assert worker.generation.engine.worker_running
    done = await wait_status(web, prompt.id, {'COMPLETED', 'FAILED'}, timeout=30)
    assert done.status == Status.COMPLETED.value and provider.submissions == 1
    for _ in range(100):  # the worker's COMPLETED event crosses over LISTEN/NOTIFY
        if any(e.prompt_id == prompt.id and e.status == 'COMPLETED' and e.relayed for e in heard):
            break
        await asyncio.sleep(0.05)
    assert any(e.prompt_id == prompt.id and e.status == 'COMPLETED' and e.relayed for e in heard)


def test_web_only_replica_on_sqlite_is_refused(isolated_env: Path) -> None:
    settings = Settings(NANOGEN_WORKER=False)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match='NANOGEN_WORKER=false'):
        settings.check_startup()


def test_stalled_window_must_exceed_the_heartbeat(isolated_env: Path) -> None:
    with pytest.raises(ValueError, match='NANOGEN_STALLED_AFTER_S'):
        Settings(NANOGEN_WORKER_HEARTBEAT_S=5, NANOGEN_STALLED_AFTER_S=5)  # type: ignore[call-arg]


def test_python_m_nanogen_worker_runs_steps_and_drains_on_sigterm(fake, isolated_env: Path, postgres_url: str) -> None:
    """The worker-only role as a process: it submits and finishes a prompt recorded by someone else, and SIGTERM
    stops it cleanly (exit 0)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from decimal import Decimal

    from nanogen.db import Database
    from nanogen.generation.engine import apply_schema
    from nanogen.models import Prompt, User
    from tests.drills.app_process import ENV_PREFIXES, ROOT

    _provider, url = fake
    db = Database(postgres_url)
    db.migrate()
    apply_schema(db)
    with db.session() as s:
        user = User(subject='local:w@example.com', email='w@example.com', name='W')
        s.add(user)
        s.flush()
        prompt = Prompt(user_id=user.id, prompt='for the worker', image_size=512, status='PENDING',
                        estimated_cost=Decimal('0.005'))
        s.add(prompt)
        s.commit()
        pid = prompt.id
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    env.update(NANOGEN_DATABASE_URL=postgres_url, NANOBANANA_API_KEY='test-key-123456', NANOBANANA_BASE_URL=url,
               NANOGEN_DATA_DIR=str(isolated_env / 'worker'), NANOGEN_POLL_INITIAL='0.2', NANOGEN_POLL_MAX='0.5')
    isolated_env.mkdir(parents=True, exist_ok=True)
    log = isolated_env / 'worker.log'
    with open(log, 'wb') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'nanogen', 'worker'], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.session() as s:
                row = s.get(Prompt, pid)
            if row is not None and row.status in ('COMPLETED', 'FAILED'):
                break
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        assert row.status == 'COMPLETED', row.error_message
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        db.dispose()


async def test_a_sigterm_during_start_up_keeps_the_replica_draining_and_its_worker_stopped(
        fake, make_services, isolated_env: Path) -> None:
    """SIGTERM can arrive before the startup hook has started the worker: /readyz must keep saying draining and no
    step may start here (the worker's start used to clear the flag)."""
    _, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/d.db', url), start=False)
    services.begin_drain()
    await services.start()
    assert services.draining and not services.generation.engine.worker_running
    await services.stop()
    restarted = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/d.db', url))
    assert not restarted.draining and restarted.generation.engine.worker_running
    await restarted.generation.engine.stop()  # a stop, then a start of the same engine: a restart, not a drain
    await restarted.generation.engine.start_worker()
    assert not restarted.draining and restarted.generation.engine.worker_running
