"""Overhead: time from the provider finishing a task to the image stored and the user's page told.

`python -m bench.overhead` runs both paths against the contract fake over real HTTP:
- callbacks: the fake POSTs to the app's own callback route (served in the same loop); target p50 < 100 ms,
  p99 < 300 ms;
- polling: no public URL; target p50 within half the poll interval that found the task, plus 100 ms.
The clock starts at the fake task's `done_at` (same process, same monotonic clock) and stops when the COMPLETED
PromptEvent reaches a subscriber of services.bus (what the generator page listens to).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from bench.common import percentile, quiet_logs, report, summary_ms, verdict
from nanogen import pools
from nanogen.bootstrap import build_services
from nanogen.config import Settings
from nanogen.events import PromptEvent
from nanogen.generation.requests import validate_request
from nanogen.http.callbacks import build_callback_router
from nanogen.http.errors import install_error_handlers
from nanogen.models import Prompt, Status
from nanogen.provider.fake import FakeConfig, FakeProvider
from tests.support.inloop import serve_in_loop
from tests.support.servers import serve_asgi

API_KEY = 'bench-key-123456'


def instrument(services: Any, provider: FakeProvider, arrivals: dict[str, float]) -> dict[str, list[float]]:
    """Time the stages between 'provider done' and 'page told' (wrappers on the live objects, bench-only)."""
    stages: dict[str, list[float]] = {'callback_arrival_after_done': [], 'record_info': [], 'download': [],
                                      'storage_put_x3': []}

    def timed(obj: Any, name: str, stage: str) -> None:
        original = getattr(obj, name)

        async def wrapper(*args: Any, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kw)
            finally:
                stages[stage].append(time.perf_counter() - started)
        setattr(obj, name, wrapper)
    timed(services.client, 'record_info', 'record_info')
    timed(services.client, 'download', 'download')
    timed(services.storage, 'put', 'storage_put_x3')
    original_callback = services.generation.handle_callback

    async def on_callback(token: str, body: Any) -> None:
        task = provider.tasks.get(((body or {}).get('data') or {}).get('taskId', ''))
        if task is not None and task.task_id not in arrivals:
            arrivals[task.task_id] = time.monotonic()
            stages['callback_arrival_after_done'].append(arrivals[task.task_id] - task.done_at)
        await original_callback(token, body)
    services.generation.handle_callback = on_callback
    return stages


def poll_schedule(initial: float, cap: float, horizon: float) -> list[tuple[float, float]]:
    """(time after submission, interval that led to it) of every poll, as GenerationService paces them."""
    polls, t, interval = [], 0.0, initial
    while t < horizon:
        t += interval
        polls.append((t, interval))
        interval = min(interval * 1.5, cap)
    return polls


async def run(mode: str, count: int, every_s: float, latency_s: float, jitter_s: float, size: int,
              poll_initial: float, poll_max: float) -> dict[str, Any]:
    provider = FakeProvider(FakeConfig(latency_s=latency_s, latency_jitter_s=jitter_s, api_key=API_KEY,
                                       send_callbacks=mode == 'callbacks', credits=1e9, seed=1))
    completed_at: dict[int, float] = {}
    arrivals: dict[str, float] = {}  # task id -> when its first callback reached the app
    pillow_s: list[float] = []
    original_in_images = pools.in_images

    async def timed_in_images(*args: Any, **kw: Any) -> Any:  # how much of the overhead is Pillow (and its trip to
        started = time.perf_counter()                       # the image worker process and back)
        try:
            return await original_in_images(*args, **kw)
        finally:
            pillow_s.append(time.perf_counter() - started)
    pools.in_images = timed_in_images  # type: ignore[assignment]

    def on_event(event: PromptEvent) -> None:
        if event.status == Status.COMPLETED.value:
            completed_at[event.prompt_id] = time.monotonic()

    with tempfile.TemporaryDirectory() as tmp, serve_asgi(provider.app) as fake_url:
        settings = Settings(NANOGEN_DATA_DIR=tmp, NANOBANANA_API_KEY=API_KEY, NANOBANANA_BASE_URL=fake_url,
                            NANOGEN_POLL_INITIAL=poll_initial, NANOGEN_POLL_MAX=poll_max,
                            NANOGEN_MAX_CONCURRENT_PER_USER=count)  # type: ignore[call-arg]
        services = build_services(settings, http=httpx.AsyncClient(timeout=30))
        receiver = FastAPI()
        install_error_handlers(receiver)
        receiver.include_router(build_callback_router(services))  # the app's real callback route
        async with serve_in_loop(receiver) as base:
            if mode == 'callbacks':
                services.settings.public_url = base
            await services.start()
            services.bus.subscribe(on_event)
            stages = instrument(services, provider, arrivals)
            user = await services.users.sign_in(subject='local:bench@example.com', email='bench@example.com')
            assert user.id is not None
            ids = []
            for _n in range(count):
                prompt = await services.generation.create(user.id, validate_request(prompt='overhead bench',
                                                                                    size=size))
                assert prompt.id is not None
                ids.append(prompt.id)
                await asyncio.sleep(every_s)
            deadline = time.monotonic() + latency_s + jitter_s + 4 * poll_max + 60
            while len(completed_at) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            rows = await services.db.run(lambda s: {p.id: p for p in s.exec(select(Prompt).where(
                col(Prompt.id).in_(ids)))})
            await services.stop()
            pools.in_images = original_in_images  # type: ignore[assignment]
    overheads, app_side, slack, found_intervals = [], [], [], []
    for pid in ids:
        row = rows[pid]
        if pid not in completed_at or not row.provider_task_id:
            continue
        task = provider.tasks[row.provider_task_id]
        overheads.append(completed_at[pid] - task.done_at)
        if task.task_id in arrivals:
            app_side.append(completed_at[pid] - arrivals[task.task_id])
        if mode == 'polling':
            # Which poll found it: the first one after the task was done (times relative to the submit answer).
            done_rel = task.done_at - task.created
            when, interval = next(p for p in poll_schedule(poll_initial, poll_max, done_rel + poll_max * 2)
                                  if p[0] >= done_rel)
            found_intervals.append(interval)
            slack.append(completed_at[pid] - task.done_at - (when - done_rel))  # what is left after the wait
    calls = dict(provider.calls)
    figures: dict[str, Any] = {
        'mode': mode, 'generations': count, 'completed': len(overheads), 'one_every_s': every_s,
        'provider_latency_s': f'{latency_s}+U(0,{jitter_s})', 'size_px': size,
        'poll_initial_s': poll_initial, 'poll_max_s': poll_max,
        'overhead': summary_ms(overheads),
        'app_side_from_callback_arrival': summary_ms(app_side) if app_side else None,
        'stages': {'pillow_process': summary_ms(pillow_s),
                   **{name: summary_ms(values) for name, values in stages.items() if values}},
        'provider_requests_per_generation': round(sum(calls.values()) / max(1, count), 2),
        'provider_requests_by_path': calls, 'submissions': provider.submissions,
    }
    p50, p99 = figures['overhead']['p50_ms'], figures['overhead']['p99_ms']
    if mode == 'callbacks':
        figures['targets'] = {'p50 < 100 ms': verdict(p50, 100), 'p99 < 300 ms': verdict(p99, 300)}
    else:
        half = percentile(found_intervals, 50) / 2 * 1000 + 100
        figures['after_poll_wait'] = summary_ms(slack)
        figures['median_finding_interval_s'] = percentile(found_intervals, 50)
        figures['targets'] = {f'p50 < half the poll interval + 100 ms = {half:.0f} ms': verdict(p50, half)}
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--mode', choices=('callbacks', 'polling', 'both'), default='both')
    parser.add_argument('--count', type=int, default=100)
    parser.add_argument('--every', type=float, default=0.25, help='seconds between new generations')
    parser.add_argument('--size', type=int, default=1024)
    args = parser.parse_args(argv)
    quiet_logs()
    results = {}
    if args.mode in ('callbacks', 'both'):
        results['callbacks'] = asyncio.run(run('callbacks', args.count, args.every, latency_s=2.0, jitter_s=0.0,
                                               size=args.size, poll_initial=2.0, poll_max=15.0))
    if args.mode in ('polling', 'both'):
        # A spread of provider times, so tasks end at every phase of the polling schedule (defaults 2 s x1.5, 15 s).
        results['polling'] = asyncio.run(run('polling', max(20, args.count // 2), args.every, latency_s=3.0,
                                             jitter_s=12.0, size=args.size, poll_initial=2.0, poll_max=15.0))
    report('overhead', results)


if __name__ == '__main__':
    main()
