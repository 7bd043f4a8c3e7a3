"""The embedded job queue (SQLite installs): procrastinate's InMemoryConnector, made fit to run for months.

procrastinate ships InMemoryConnector for tests, and three of its habits hurt a long-running app (issue 18):
- `fetch_job_one` rebuilt the set of running locks once *per waiting job* (`job["lock"] not in self.current_locks`
  inside the filter), so one fetch cost (ready jobs x all jobs). With 1,000 generations in flight and a few hundred
  finishes ready, fetching was 58 % of the event loop's busy time in the capacity bench: the loop stalled, pages
  and live updates queued behind it. Here a fetch is one pass: the locks once, the best job by (priority, id).
- every query was appended to `self.queries` (a test aid), forever;
- a deleted job's `events` list was kept, forever.

Same semantics otherwise: a job is fetched when it is `todo`, in one of the worker's queues, due, and its lock is
not held by a running job; the highest priority first, then the oldest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from procrastinate import utils
from procrastinate.testing import InMemoryConnector


class MemoryQueue(InMemoryConnector):
    async def generic_execute(self, query: str, suffix: str, **arguments: Any) -> Any:
        query_name = self.reverse_queries[query]  # as the parent, minus the unbounded self.queries log
        return await getattr(self, f'{query_name}_{suffix}')(**arguments)

    async def fetch_job_one(self, queues: Iterable[str] | None, worker_id: int) -> dict[str, Any]:
        assert worker_id in self.workers, f'Worker {worker_id} not found'
        wanted = None if queues is None else set(queues)
        now = utils.utcnow()
        jobs = self.jobs.values()
        held = {job['lock'] for job in jobs if job['status'] == 'doing' and job['lock'] is not None}
        best: dict[str, Any] | None = None
        best_key: tuple[int, int] | None = None
        for job in jobs:
            if (job['status'] != 'todo' or (wanted is not None and job['queue_name'] not in wanted)
                    or (job['scheduled_at'] and job['scheduled_at'] > now) or job['lock'] in held):
                continue
            key = (-job['priority'], job['id'])
            if best_key is None or key < best_key:
                best, best_key = job, key
        if best is None:
            return {'id': None}
        best['status'] = 'doing'
        best['worker_id'] = worker_id
        self.events[best['id']].append({'type': 'started', 'at': now})
        return best

    async def finish_job_run(self, job_id: int, status: str, delete_job: bool) -> None:
        await super().finish_job_run(job_id, status, delete_job)
        if delete_job:
            self.events.pop(job_id, None)
