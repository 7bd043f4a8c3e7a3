"""Where 'provider done -> page told' goes, stage by stage, inside the app the capacity bench runs (bench-only).

`install(services)` wraps a few live objects of the running app (never the product's code) and records, per prompt,
when its callback arrived, when its finish step asked record-info, when Pillow started and ended (in the image
worker, with the trip there and back), when its files were stored and when its page was told. `summary(told)`
turns them into per-stage p50/p95/p99, so a missed target names the stage that missed it.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import summary_ms

# stage name -> (the mark it starts at, the mark it ends at)
STAGES = {
    'callback -> finish step starts (job queue wait)': ('callback', 'finish_start'),
    'record-info confirm (provider slot + HTTP)': ('finish_start', 'confirmed'),
    'claim + response row written': ('confirmed', 'download_start'),
    'download (provider slot + HTTP)': ('download_start', 'pillow_start'),
    'Pillow (image worker, with the trip)': ('pillow_start', 'pillow_end'),
    'store files (storage threads)': ('pillow_end', 'stored'),
    'complete row + publish': ('stored', 'told'),
}


def install(services: Any) -> dict[int, dict[str, float]]:
    from nanogen import pools
    marks: dict[int, dict[str, float]] = {}
    generation = services.generation
    steps = generation.steps

    def mark(pid: int | None, name: str) -> None:
        if pid is not None:
            marks.setdefault(pid, {}).setdefault(name, time.monotonic())

    original_callback = generation.handle_callback

    async def on_callback(token: str, body: Any) -> None:
        mark(generation.callback_prompt_id(token), 'callback')
        await original_callback(token, body)
    generation.handle_callback = on_callback

    results = steps.results
    original_process, original_store = results.process, results.store

    async def process(prompt: Any, *args: Any, **kw: Any) -> Any:
        mark(prompt.id, 'download_start')
        return await original_process(prompt, *args, **kw)

    async def store(prompt: Any, *args: Any, **kw: Any) -> Any:
        try:
            return await original_store(prompt, *args, **kw)
        finally:
            mark(prompt.id, 'stored')
    results.process, results.store = process, store

    original_record_info = steps.client.record_info
    original_in_images = pools.in_images
    by_task: dict[str, int] = {}

    async def record_info(task_id: str) -> Any:
        pid = by_task.get(task_id)
        if pid is not None and 'callback' in marks.get(pid, {}):
            mark(pid, 'finish_start')
        try:
            return await original_record_info(task_id)
        finally:
            if pid is not None and 'finish_start' in marks.get(pid, {}):
                mark(pid, 'confirmed')
    steps.client.record_info = record_info

    async def in_images(fn: Any, *args: Any, **kw: Any) -> Any:
        pid = current_pid()
        mark(pid, 'pillow_start')
        try:
            return await original_in_images(fn, *args, **kw)
        finally:
            mark(pid, 'pillow_end')
    pools.in_images = in_images

    def current_pid() -> int | None:
        from nanogen.logs import current_prompt_id
        pid: int | None = current_prompt_id.get()
        return pid

    original_rows_get = steps.rows.get

    async def rows_get(pid: int) -> Any:  # learn task id -> prompt id as the steps read their rows
        row = await original_rows_get(pid)
        if row is not None and row.provider_task_id:
            by_task[row.provider_task_id] = pid
        return row
    steps.rows.get = rows_get
    return marks


def summary(marks: dict[int, dict[str, float]], told: dict[int, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage, (start, end) in STAGES.items():
        spans = []
        for pid, m in marks.items():
            ends = told.get(pid) if end == 'told' else m.get(end)
            if start in m and ends is not None and ends >= m[start]:
                spans.append(ends - m[start])
        out[stage] = summary_ms(spans)
    return out
