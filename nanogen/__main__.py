"""`python -m nanogen worker`: a worker only (no web): runs generation steps and periodic tasks from the job queue.

Needs PostgreSQL (the queue web replicas defer into); events reach pages on web replicas through the relay
(LISTEN/NOTIFY). SIGTERM/SIGINT drain it: no new step starts, running ones end within NANOGEN_SHUTDOWN_GRACE.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from nanogen.bootstrap import build_services, start_or_exit
from nanogen.config import Settings
from nanogen.logs import setup_logging

log = logging.getLogger('nanogen.worker')
USAGE = 'usage: python -m nanogen worker'


async def run_worker(settings: Settings) -> None:
    services = start_or_exit(lambda: build_services(settings))
    if services.db.is_sqlite:
        print('nanogen worker needs PostgreSQL (NANOGEN_DATABASE_URL): on SQLite the app runs its own jobs',
              file=sys.stderr)
        raise SystemExit(2)
    await asyncio.to_thread(services.migrate)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    services.settings.worker = True
    await services.start()
    log.info('worker %s running', services.generation.worker_id)
    await stop.wait()
    services.begin_drain()
    await services.stop()
    log.info('worker stopped')


def main(argv: list[str]) -> int:
    if argv[:1] != ['worker']:
        print(USAGE, file=sys.stderr)
        return 2
    settings = Settings()
    setup_logging(settings)
    asyncio.run(run_worker(settings))
    return 0


if __name__ == '__main__':
    raise SystemExit(main(sys.argv[1:]))
