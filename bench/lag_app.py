"""`python -m bench.lag_app`: runs app.py unchanged, plus an event-loop lag monitor for the capacity benchmark.

The monitor is a task that asks to sleep 50 ms and records how late it wakes up: any stretch of work that holds
the loop (a blocking call, a long page render) shows as lag. It lives here, not in the product, so production
never carries it. GET /debug/lag (signed in, like every non-public path) answers p50/p99/max and the process RSS;
`?reset=1` starts a new window.
"""

from __future__ import annotations

import asyncio
import gc
import os
import runpy
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INTERVAL_S = 0.05
MAX_SAMPLES = 200_000


def install() -> None:
    from nicegui import app

    from bench import stages
    from bench.common import percentile, rss_mb
    samples: list[float] = []

    async def monitor() -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(INTERVAL_S)
            samples.append(max(0.0, loop.time() - started - INTERVAL_S))
            if len(samples) > MAX_SAMPLES:
                del samples[: MAX_SAMPLES // 2]

    gc_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}  # seconds per collection, by generation
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:  # any thread's collection stops the loop too (the GIL)
        if phase == 'start':
            gc_started[0] = time.perf_counter()
        elif len(gc_pauses[info['generation']]) < MAX_SAMPLES:
            gc_pauses[info['generation']].append(time.perf_counter() - gc_started[0])
    gc.callbacks.append(on_gc)

    tasks: list[asyncio.Task[None]] = []
    app.on_startup(lambda: tasks.append(asyncio.create_task(monitor())))
    told: dict[int, float] = {}  # prompt id -> when its COMPLETED event reached the bus (what pages listen to)
    marks: list[dict[int, dict[str, float]]] = []

    def watch_completions() -> None:
        from nanogen.events import PromptEvent

        def on_event(event: PromptEvent) -> None:
            if event.status == 'COMPLETED':
                told.setdefault(event.prompt_id, time.monotonic())  # CLOCK_MONOTONIC: the same in every process
        app.state.services.bus.subscribe(on_event)
        marks.append(stages.install(app.state.services))  # per-stage times of 'provider done -> page told'
    app.on_startup(watch_completions)
    if os.environ.get('NANOGEN_BENCH_STALLS') == '1':
        app.on_startup(start_stall_sampler)
    if os.environ.get('NANOGEN_BENCH_TRACEMALLOC') == '1':
        import tracemalloc
        tracemalloc.start(1)

        @app.get('/debug/allocations')
        def allocations(limit: int = 25) -> list[dict[str, Any]]:
            """Where the live Python memory was allocated, by source line, biggest first (bench.memory --trace)."""
            stats = tracemalloc.take_snapshot().statistics('lineno')[:limit]
            return [{'where': f'{s.traceback[0].filename.split("site-packages/")[-1]}:{s.traceback[0].lineno}',
                     'kb': round(s.size / 1024), 'blocks': s.count} for s in stats]

    @app.get('/debug/lag')
    def lag(reset: bool = False) -> dict[str, Any]:
        ms = [s * 1000 for s in samples]
        out = {'n': len(ms), 'p50_ms': round(percentile(ms, 50), 2), 'p99_ms': round(percentile(ms, 99), 2),
               'max_ms': round(max(ms), 2) if ms else None, 'rss_mb': round(rss_mb(os.getpid()), 1),
               'gc': {f'gen{g}': {'n': len(p), 'total_ms': round(sum(p) * 1000),
                                  'max_ms': round(max(p, default=0) * 1000, 1)} for g, p in gc_pauses.items()}}
        if reset:
            samples.clear()
            for pauses in gc_pauses.values():
                pauses.clear()
        return out

    @app.get('/debug/census')
    def census(limit: int = 15) -> dict[str, Any]:
        """The objects a full collection scans (frozen ones excluded), by type, most first: what makes it long."""
        import collections
        counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
        return {'tracked': sum(counts.values()), 'frozen': gc.get_freeze_count(), 'top': counts.most_common(limit)}

    @app.get('/debug/garbage')
    def garbage(limit: int = 25, prune: bool = False) -> dict[str, Any]:
        """What the cyclic garbage is, by type (frozen garbage included: it unfreezes first), most first: what a
        survivor freeze keeps until its whole scan (nanogen/gctune.py). Stops the loop for a while; at the end."""
        import collections

        from nicegui import Client
        if prune:  # delete the tabs that never connected now, not 60 s after their page was served
            Client.prune_instances(client_age_threshold=0)
        gc.unfreeze()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            counts = collections.Counter(f'{type(o).__module__}.{type(o).__qualname__}' for o in gc.garbage)
            # what the cycles are made of: the functions and methods in the garbage, by name
            callables = collections.Counter(
                getattr(o, '__qualname__', '?') if isinstance(o, types.FunctionType)
                else f'{getattr(o.__func__, "__qualname__", "?")} (bound)' for o in gc.garbage
                if isinstance(o, (types.FunctionType, types.MethodType)))
            callables.update(f'client deleted={o.is_deleted} path={o.page.path}' for o in gc.garbage
                             if isinstance(o, Client))
            callables.update(f'frame {o.f_code.co_qualname} ({o.f_code.co_filename.rsplit("/", 2)[-2:]})'
                             for o in gc.garbage if isinstance(o, types.FrameType))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.unfreeze()  # the survivor freeze froze what was saved (gc.garbage) as the collection stopped
            gc.collect()  # saved, the garbage was kept: free it now
        # Deleted tabs something still holds (not garbage, not freed): a leak, or a page part pinned until later.
        gc.unfreeze()  # frozen again as that collection stopped: get_objects() sees no frozen object
        alive = gc.get_objects()
        pinned = collections.Counter(o.page.path for o in alive
                                     if isinstance(o, Client) and o.id not in Client.instances)
        # and the page objects alive (pages.*: views, cards...): with no tab open, each is held by something
        page_objects = collections.Counter(f'{type(o).__module__}.{type(o).__qualname__}' for o in alive
                                           if str(type(o).__module__).startswith('pages.') and not isinstance(o, type))
        del alive
        return {'garbage': sum(counts.values()), 'top': counts.most_common(limit),
                'callables': callables.most_common(limit), 'pinned_deleted_clients': dict(pinned),
                'page_objects': dict(page_objects), 'open_tabs': len(Client.instances)}

    @app.get('/debug/stages')
    def stage_times() -> dict[str, Any]:
        """'Provider done -> page told' by stage (bench/stages.py), for the prompts told so far."""
        return stages.summary(marks[0] if marks else {}, told)

    @app.get('/debug/told')
    async def page_told(mark: str = '') -> dict[str, float]:
        """Provider task id -> monotonic time its page was told it completed (the capacity bench's overhead); with
        `mark` (a bench/stages.py mark, e.g. 'callback'), when that happened instead."""
        from sqlmodel import col, select

        from nanogen.models import Prompt
        times = {pid: m[mark] for pid, m in (marks[0] if marks else {}).items() if mark in m} if mark else told
        ids = list(times)
        rows = await app.state.services.db.run(lambda s: s.exec(select(Prompt.id, Prompt.provider_task_id).where(
            col(Prompt.id).in_(ids))).all()) if ids else []
        return {task_id: times[pid] for pid, task_id in rows if task_id}


def start_stall_sampler() -> None:
    """--diagnose: a thread that, whenever the loop has not ticked for 100 ms, prints where the loop thread is."""
    import collections
    import threading
    import time
    import traceback

    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    beat = [time.monotonic()]
    seen: collections.Counter[str] = collections.Counter()

    def tick() -> None:
        beat[0] = time.monotonic()
        loop.call_later(0.01, tick)
    tick()

    def sample() -> None:
        while True:
            time.sleep(0.02)
            if time.monotonic() - beat[0] > 0.1:
                frame = sys._current_frames().get(loop_thread)
                if frame is not None:
                    stack = ''.join(traceback.format_stack(frame, limit=14)[:-1])
                    seen[stack] += 1
                    if seen[stack] in (1, 10, 100):
                        sys.stderr.write(f'STALL x{seen[stack]} (loop blocked {time.monotonic() - beat[0]:.2f} s)\n'
                                         f'{stack}\n')
    threading.Thread(target=sample, daemon=True, name='stall-sampler').start()


if __name__ == '__main__':
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    install()
    sys.argv = [str(ROOT / 'app.py')]
    runpy.run_path(str(ROOT / 'app.py'), run_name='__main__')
