"""Memory: what one open tab and one generation in flight cost the app process (RSS deltas, issue 18).

`python -m bench.memory` starts the real app (as bench.capacity does) against the contract fake at a latency long
enough that nothing finishes, then measures the app's resident memory: at rest, after opening `--tabs` generator
tabs (page GET + socket, as nicegui.js does), and after starting `--generations` generations. RSS, not tracemalloc:
RSS includes what tracemalloc cannot see (C allocations of sockets, SQLite, glibc's arenas), and RSS is the target.
The image worker processes are reported apart (they are other processes, with their own memory).
`--env NAME=VALUE` (repeatable) runs the app with a runtime setting, e.g. `--env MALLOC_ARENA_MAX=2`, to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.capacity import PROVIDER_KEY, SECRET, open_browser, provider_process, sign_in
from bench.common import quiet_logs, report, rss_mb
from tests.drills.app_process import AppProcess

SETTLE_S = 5.0


def children_rss_mb(pid: int) -> float:
    """RSS of the processes started by `pid` and theirs (the fork server and the image workers)."""
    parents: dict[int, int] = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
    family, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - family
        family |= frontier
    total = 0.0
    for child in family:
        try:
            total += rss_mb(child)
        except OSError:
            pass
    return total


async def settle(pid: int) -> float:
    """RSS after the process has had SETTLE_S to finish what it was doing (the median of a few samples)."""
    await asyncio.sleep(SETTLE_S)
    samples = []
    for _ in range(5):
        samples.append(rss_mb(pid))
        await asyncio.sleep(0.2)
    return sorted(samples)[2]


async def run(tabs: int, generations: int, users: int, env: dict[str, str], trace: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, provider_process(3600.0) as provider_url:
        app = AppProcess(Path(tmp) / 'data', command=('-m', 'bench.lag_app'), NANOGEN_SECRET_KEY=SECRET,
                         NANOBANANA_API_KEY=PROVIDER_KEY, NANOBANANA_BASE_URL=provider_url,
                         NANOGEN_MAX_CONCURRENT_PER_USER=generations, NANOGEN_API_RATE_PER_MINUTE=100_000,
                         NANOGEN_LOG_LEVEL='WARNING', **env,
                         **({'NANOGEN_BENCH_TRACEMALLOC': '1'} if trace else {}))
        await asyncio.to_thread(app.start)
        assert app.proc is not None
        pid = app.proc.pid
        try:
            clients = [await sign_in(app.url, n) for n in range(users)]
            at_rest = await settle(pid)
            received: list[int] = []
            sockets = [await open_browser(clients[n % users], app.url, received, n) for n in range(tabs)]
            with_tabs = await settle(pid)
            started = time.monotonic()
            for n in range(generations):
                answer = await clients[n % users].post('/api/v1/images/generate', json={
                    'prompt': f'memory bench user {n % users}', 'size': 1024})
                assert answer.status_code == 202, answer.text[:300]
            create_s = time.monotonic() - started
            with_generations = await settle(pid)
            workers = children_rss_mb(pid)
            top = (await clients[0].get('/debug/allocations')).json() if trace else []
            for s in sockets:
                await s.disconnect()
            for c in clients:
                await c.aclose()
        finally:
            await asyncio.to_thread(app.stop)
    return {
        'runtime_env': env, 'tabs': tabs, 'generations_in_flight': generations, 'users': users,
        'rss_mb_at_rest': round(at_rest, 1), 'rss_mb_with_tabs': round(with_tabs, 1),
        'rss_mb_with_generations': round(with_generations, 1),
        'per_tab_kb': round((with_tabs - at_rest) * 1024 / max(1, tabs), 1),
        'per_generation_in_flight_kb': round((with_generations - with_tabs) * 1024 / max(1, generations), 1),
        'generations_created_in_s': round(create_s, 1),
        'image_worker_processes_rss_mb': round(workers, 1),
        **({'largest_allocations_at_the_end': top} if trace else {}),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tabs', type=int, default=100)
    parser.add_argument('--generations', type=int, default=500)
    parser.add_argument('--users', type=int, default=10)
    parser.add_argument('--env', action='append', default=[], metavar='NAME=VALUE',
                        help='a runtime setting for the app process (repeatable)')
    parser.add_argument('--trace', action='store_true',
                        help='also list where the live Python memory was allocated (tracemalloc; slower, more RSS)')
    args = parser.parse_args(argv)
    quiet_logs()
    env = dict(item.split('=', 1) for item in args.env)
    report('memory-trace' if args.trace else 'memory',
           asyncio.run(run(args.tabs, args.generations, args.users, env, args.trace)))


if __name__ == '__main__':
    main()
