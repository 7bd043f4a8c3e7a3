"""Recovery: kill -9 one of two replicas (PostgreSQL) with 20 generations in flight; seconds to the page being told.

`python -m bench.recovery [--postgres URL]`: two `python app.py` processes on one PostgreSQL database and the
contract fake over real HTTP (polling, no callbacks: the dead replica's callbacks would be lost anyway without a
balancer). Replica A takes 20 generations; once all are PROCESSING at the provider, replica B starts and A is
killed with SIGKILL. The clock starts at each fake task's `done_at` (the provider finished it) and stops when its
COMPLETED event reaches a listener on the database's LISTEN/NOTIFY relay (what a page on any replica hears).
Target (issue 14): every one within 20 s of the provider finishing it, none submitted twice.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col, select

from bench.common import percentile, quiet_logs, report, verdict
from nanogen.db import Database
from nanogen.events import EventBus, PromptEvent
from nanogen.generation.engine import apply_schema
from nanogen.generation.relay import PostgresRelay
from nanogen.models import Prompt, Status, User
from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.drills.app_process import AppProcess
from tests.support.servers import serve_asgi

TARGET_S = 20.0
SECRET = 'bench-recovery-secret-' + 'x7Qm2Lp9Vt4Rb8Nc1Kd6'


def fresh_database(admin_url: str) -> str:
    name = f'nanogen_bench_{uuid.uuid4().hex[:10]}'
    engine = sa.create_engine(admin_url.replace('postgresql://', 'postgresql+psycopg://', 1), isolation_level='AUTOCOMMIT')
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE {name}')
    engine.dispose()
    return admin_url.rsplit('/', 1)[0] + '/' + name


def seed(db: Database, count: int) -> list[int]:
    with db.session() as s:
        user = User(subject='local:bench@example.com', email='bench@example.com', name='Bench')
        s.add(user)
        s.flush()
        rows = [Prompt(user_id=user.id, prompt=f'recovery {n}', image_size=512, status=Status.PENDING.value,
                       estimated_cost=Decimal('0.005')) for n in range(count)]
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows if r.id is not None]


def replica(root: Path, name: str, url: str, database_url: str) -> AppProcess:
    return AppProcess(root / name, NANOBANANA_API_KEY='bench-key-123456', NANOBANANA_BASE_URL=url,
                      NANOGEN_DATABASE_URL=database_url, NANOGEN_SECRET_KEY=SECRET, NANOGEN_POLL_INITIAL=1,
                      NANOGEN_POLL_MAX=2, NANOGEN_MAX_CONCURRENT_PER_USER=100, NANOGEN_LOG_LEVEL='WARNING')


async def run(admin_url: str, count: int, latency_s: float) -> dict[str, object]:
    provider = FakeProvider(FakeConfig(latency_s=latency_s, latency_jitter_s=0.0, send_callbacks=False,
                                       api_key='bench-key-123456'))
    database_url = fresh_database(admin_url)
    db = Database(database_url)
    db.migrate()
    apply_schema(db)
    ids = seed(db, count)
    told: dict[int, float] = {}
    bus = EventBus()
    bus.subscribe(lambda e: told.setdefault(e.prompt_id, time.monotonic())
                  if isinstance(e, PromptEvent) and e.status == Status.COMPLETED.value else None)
    relay = PostgresRelay(database_url, bus, replica_id='bench-observer')
    await relay.start()
    with serve_asgi(provider.app) as url, tempfile.TemporaryDirectory() as tmp:
        a, b = replica(Path(tmp), 'a', url, database_url), replica(Path(tmp), 'b', url, database_url)
        try:
            await asyncio.to_thread(a.start)
            while True:  # all submitted by A, all still running at the provider
                with db.session() as s:
                    statuses = list(s.exec(select(Prompt.status).where(col(Prompt.id).in_(ids))))
                if all(st == Status.PROCESSING.value for st in statuses):
                    break
                await asyncio.sleep(0.05)
            await asyncio.to_thread(b.start)
            a.kill9()
            killed_at = time.monotonic()
            deadline = killed_at + 120
            while len(told) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            a.stop()
            b.stop()
    await relay.stop()
    with db.session() as s:
        rows = {p.id: p for p in s.exec(select(Prompt).where(col(Prompt.id).in_(ids)))}
    tasks = {t.task_id: t for t in provider.tasks.values()}
    delays = [told[pid] - tasks[rows[pid].provider_task_id or ''].done_at for pid in ids
              if pid in told and rows[pid].provider_task_id in tasks]
    db.dispose()
    worst = max(delays) if delays else float('nan')
    return {'generations': count, 'provider_latency_s': latency_s, 'completed': len(delays),
            'submissions': provider.submissions, 'p50_s': round(percentile(delays, 50), 2),
            'max_s': round(worst, 2), 'target_max_s': TARGET_S,
            'verdict': verdict(worst, TARGET_S) if len(delays) == count and provider.submissions == count else 'MISS'}


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(prog='python -m bench.recovery', description=__doc__.split('\n', 1)[0])
    args.add_argument('--postgres', default=os.environ.get('NANOGEN_TEST_POSTGRES_URL',
                                                           'postgresql://postgres@127.0.0.1:5432/postgres'))
    args.add_argument('--generations', type=int, default=20)
    args.add_argument('--latency', type=float, default=10.0, help='seconds the provider takes per task')
    ns = args.parse_args(argv)
    quiet_logs()
    report('recovery', asyncio.run(run(ns.postgres, ns.generations, ns.latency)))


if __name__ == '__main__':
    main()
