"""The embedded job queue: the same choice of job as procrastinate's InMemoryConnector, without its unbounded logs."""

from __future__ import annotations

import datetime
import random

import pytest
from procrastinate import utils
from procrastinate.testing import InMemoryConnector
from procrastinate.types import JobToDefer

from nanogen.generation.memqueue import MemoryQueue

pytestmark = pytest.mark.asyncio


def fill(connector: InMemoryConnector, rng: random.Random) -> None:
    """The same random mix of jobs in any connector: waiting, running, due or not, locked or not, two queues."""
    now = utils.utcnow()
    connector.workers = {1: now}
    for job_id in range(1, 301):
        scheduled = rng.choice([None, None, now - datetime.timedelta(seconds=5), now + datetime.timedelta(hours=1)])
        connector.jobs[job_id] = {
            'id': job_id, 'queue_name': rng.choice(['nanogen', 'other']), 'task_name': 't',
            'priority': rng.choice([0, 0, 10, -5]), 'lock': rng.choice([None, *[f'prompt-{n}' for n in range(40)]]),
            'queueing_lock': None, 'args': {}, 'status': rng.choice(['todo', 'todo', 'todo', 'doing', 'succeeded']),
            'scheduled_at': scheduled, 'attempts': 0, 'abort_requested': False, 'worker_id': None,
        }
        connector.events[job_id] = []


@pytest.mark.parametrize('seed', range(12))
@pytest.mark.parametrize('queues', [None, ['nanogen']])
async def test_it_fetches_the_jobs_procrastinate_would_in_the_same_order(seed: int, queues: list[str] | None) -> None:
    ours, theirs = MemoryQueue(), InMemoryConnector()
    fill(ours, random.Random(seed))
    fill(theirs, random.Random(seed))
    picked_ours, picked_theirs = [], []
    for _ in range(60):  # each fetch marks its job running, so later fetches see its lock held
        picked_ours.append((await ours.fetch_job_one(queues, 1))['id'])
        picked_theirs.append((await theirs.fetch_job_one(queues, 1))['id'])
    assert picked_ours == picked_theirs
    assert any(picked_ours) and None in picked_ours  # the mix both found jobs and ran out of fetchable ones


async def test_a_long_run_keeps_no_query_log_and_no_events_of_deleted_jobs() -> None:
    queue = MemoryQueue()
    worker = await queue.register_worker_one()
    for n in range(50):
        [job] = await queue.defer_jobs_all([JobToDefer(queue_name='nanogen', task_name='t', priority=0,
                                                       lock=f'prompt-{n}', queueing_lock=None, args={},
                                                       scheduled_at=None)])
        fetched = await queue.execute_query_one_async(
            next(q for q, name in queue.reverse_queries.items() if name == 'fetch_job'),
            queues=['nanogen'], worker_id=worker['worker_id'])
        assert fetched['id'] == job['id']
        await queue.finish_job_run(job_id=job['id'], status='succeeded', delete_job=True)
    assert queue.jobs == {} and queue.events == {}
    assert queue.queries == []
