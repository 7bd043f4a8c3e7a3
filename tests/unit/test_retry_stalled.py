"""Engine.retry_stalled: two runs at once in one process (a dead worker's retried retry-stalled job beside this
worker's own) retry a stalled job once, not twice (CI saw a third finish attempt)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.generation.engine import JobEngine


class Manager:
    """procrastinate's job manager as retry_stalled uses it: a job is stalled until it is retried."""

    def __init__(self) -> None:
        self.stalled = {10: SimpleNamespace(id=10, task_name='nanogen.check')}
        self.retried: list[int] = []

    async def get_stalled_jobs(self, seconds_since_heartbeat: float) -> list[Any]:
        jobs = list(self.stalled.values())
        await asyncio.sleep(0.01)  # a database round trip: the other run reads meanwhile
        return jobs

    async def retry_job(self, job: Any) -> None:
        await asyncio.sleep(0.01)
        self.retried.append(job.id)
        self.stalled.pop(job.id, None)  # a live worker takes it at once

    async def prune_stalled_workers(self, seconds_since_heartbeat: float) -> None:
        return None


async def test_two_runs_at_once_retry_a_stalled_job_once(tmp_path: Path) -> None:
    db = Database(f'sqlite:///{tmp_path / "n.db"}')
    engine = JobEngine(db=db, settings=Settings(), name='test')
    manager = Manager()
    engine.app.job_manager = manager  # type: ignore[assignment]
    await asyncio.gather(engine.retry_stalled(), engine.retry_stalled())
    assert manager.retried == [10]
