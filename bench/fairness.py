"""Fairness: while user A's 500-row batch runs, how long user B's single prompts wait before they are submitted.

`python -m bench.fairness [--rows 500] [--singles 40] [--every 0.5] [--latency 1.0] [--postgres URL]`: the app's
services in one process (SQLite, or PostgreSQL with --postgres) against the contract fake over real HTTP, polling.
User A creates a batch of `--rows` rows (the fair queue feeds it a few at a time); once it runs, user B creates a
single prompt every `--every` seconds. B's wait is the time from its prompt being recorded to the provider having
accepted it (`submitted_at - created_at`: the fake answers a submit at once, so this is the app's own queueing, not
the provider's time). Target (issue 17): p50 < 2 s, p95 < 5 s. A's progress meanwhile is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

import httpx
from sqlmodel import col, select

from bench.common import percentile, quiet_logs, report, summary_ms, verdict
from nanogen.batches.inputs import from_lines
from nanogen.bootstrap import build_services
from nanogen.config import Settings
from nanogen.generation.requests import validate_request
from nanogen.models import Prompt, Status
from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.support.servers import serve_asgi

API_KEY = 'bench-key-123456'
TARGET_P50_S, TARGET_P95_S = 2.0, 5.0


async def measure(settings: Settings, rows: int, singles: int, every_s: float) -> dict[str, Any]:
    services = build_services(settings, http=httpx.AsyncClient(timeout=30))
    await services.start()
    try:
        assert services.batches is not None
        a = await services.users.sign_in(subject='local:a@example.com', email='a@example.com', name='A')
        b = await services.users.sign_in(subject='local:b@example.com', email='b@example.com', name='B')
        assert a.id is not None and b.id is not None
        text = '\n'.join(f'a product shot, variant {n}' for n in range(1, rows + 1))
        began = time.monotonic()
        batch = await services.batches.create(a.id, from_lines(text, max_rows=rows), name='fairness', source='lines')
        created_s = time.monotonic() - began
        ids: list[int] = []
        for n in range(singles):
            prompt = await services.generation.create(b.id, validate_request(prompt=f'a single prompt {n}', size=512))
            assert prompt.id is not None
            ids.append(prompt.id)
            await asyncio.sleep(every_s)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = await services.db.run(lambda s: list(s.exec(select(Prompt).where(col(Prompt.id).in_(ids)))))
            if all(p.submitted_at is not None or Status(p.status).finished for p in found):
                break
            await asyncio.sleep(0.1)
        progress = (await services.batches.get(a.id, batch.id, rows=False)).counts
        await services.batches.cancel(a.id, batch.id)  # the rest is not needed for the figure
    finally:
        await services.stop()
    waits = [(p.submitted_at - p.created_at).total_seconds() for p in found if p.submitted_at is not None]
    return {'batch_rows': rows, 'batch_created_s': round(created_s, 2), 'singles': singles,
            'singles_submitted': len(waits), 'batch_progress_while_measured': progress,
            'single_wait': summary_ms(waits), 'waits_s': waits}


def main(argv: list[str] | None = None) -> None:
    args = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    args.add_argument('--rows', type=int, default=500)
    args.add_argument('--singles', type=int, default=40)
    args.add_argument('--every', type=float, default=0.5, help='seconds between user B\'s prompts')
    args.add_argument('--latency', type=float, default=1.0, help='the fake provider\'s time per task')
    args.add_argument('--postgres', default='', help='a PostgreSQL URL to a scratch database (default: SQLite)')
    options = args.parse_args(argv)
    quiet_logs()
    provider = FakeProvider(FakeConfig(latency_s=options.latency, latency_jitter_s=0.0, api_key=API_KEY,
                                       send_callbacks=False, credits=1e9, seed=1))
    with tempfile.TemporaryDirectory() as tmp, serve_asgi(provider.app) as fake_url:
        extra = {'NANOGEN_DATABASE_URL': options.postgres} if options.postgres else {}
        settings = Settings(NANOGEN_DATA_DIR=tmp, NANOBANANA_API_KEY=API_KEY, NANOBANANA_BASE_URL=fake_url,
                            NANOGEN_POLL_INITIAL=0.3, NANOGEN_POLL_MAX=1.0, NANOGEN_MONTHLY_BUDGET=0,
                            NANOGEN_BATCH_MAX_ROWS=max(options.rows, 1), **extra)  # type: ignore[call-arg]
        figures = asyncio.run(measure(settings, options.rows, options.singles, options.every))
    waits = figures.pop('waits_s')
    p50, p95 = percentile(waits, 50), percentile(waits, 95)
    figures['target'] = f'p50 < {TARGET_P50_S} s, p95 < {TARGET_P95_S} s'
    figures['verdict'] = 'PASS' if verdict(p50, TARGET_P50_S) == verdict(p95, TARGET_P95_S) == 'PASS' else 'MISS'
    figures['database'] = 'postgresql' if options.postgres else 'sqlite'
    report('fairness-postgresql' if options.postgres else 'fairness', figures)


if __name__ == '__main__':
    main()
