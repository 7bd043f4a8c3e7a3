"""Storage outage of 30 s: generations wait for the store and then finish; none is lost.

`python -m bench.storage_outage [--outage 30]` runs the drill of tests/drills/test_storage_outage.py at full
length (CI uses 5 s): 20 generations against the contract fake over HTTP, while every storage put fails for the
outage window. It prints how long after the store came back they all completed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select

from bench.common import quiet_logs, report
from nanogen.bootstrap import build_services
from nanogen.config import Settings
from nanogen.generation.requests import validate_request
from nanogen.models import Prompt, Status
from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.drills.test_storage_outage import FlakyStorage
from tests.support.servers import serve_asgi

API_KEY = 'bench-key-123456'


async def run(outage_s: float, count: int) -> dict[str, Any]:
    provider = FakeProvider(FakeConfig(latency_s=1.0, send_callbacks=False, api_key=API_KEY, credits=1e6))
    with tempfile.TemporaryDirectory() as tmp, serve_asgi(provider.app) as url:
        settings = Settings(NANOGEN_DATA_DIR=tmp, NANOBANANA_API_KEY=API_KEY, NANOBANANA_BASE_URL=url,
                            NANOGEN_POLL_INITIAL=0.5, NANOGEN_POLL_MAX=2,
                            NANOGEN_MAX_CONCURRENT_PER_USER=count)  # type: ignore[call-arg]
        storage = FlakyStorage(Path(tmp) / 'images')
        services = build_services(settings, storage=storage, http=httpx.AsyncClient(timeout=30))
        await services.start()
        user = await services.users.sign_in(subject='local:outage@example.com', email='outage@example.com')
        assert user.id is not None
        storage.down_until = time.monotonic() + outage_s
        ids = [(await services.generation.create(user.id, validate_request(prompt='outage', size=512))).id
               for _ in range(count)]
        rows: list[Prompt] = []
        while time.monotonic() < storage.down_until + 300:
            rows = await services.db.run(lambda s: list(s.exec(select(Prompt).where(col(Prompt.id).in_(ids)))))
            if all(Status(r.status).finished for r in rows):
                break
            await asyncio.sleep(0.2)
        finished = time.monotonic()
        await services.stop()
    statuses = [r.status for r in rows]
    return {'outage_s': outage_s, 'generations': count, 'puts_refused': storage.refused,
            'completed': statuses.count(Status.COMPLETED.value), 'failed': statuses.count(Status.FAILED.value),
            'all_done_s_after_store_back': round(finished - storage.down_until, 1),
            'provider_submissions': provider.submissions,
            'targets': {'every generation completes, none resubmitted':
                        'PASS' if statuses.count(Status.COMPLETED.value) == count and provider.submissions == count
                        else 'MISS'}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--outage', type=float, default=30.0)
    parser.add_argument('--count', type=int, default=20)
    args = parser.parse_args(argv)
    quiet_logs()
    report('storage_outage', asyncio.run(run(args.outage, args.count)))


if __name__ == '__main__':
    main()
