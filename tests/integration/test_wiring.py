"""build_services wires every collaborator through a constructor: budget, sweeps, the job engine across replicas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from procrastinate.testing import InMemoryConnector

from nanogen.generation.engine import QUEUE
from tests.conftest import make_settings


async def test_sqlite_graph_gets_its_collaborators_at_construction(make_services: Any, isolated_env: Path) -> None:
    """Issue 13 (constructor injection): the budget check and the gallery's sweep arrive through constructors."""
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/w.db', 'http://p.test'),
                                   start=False)
    assert services.generation.budget_check == services.budget.check
    assert services.library.purge_deleted in services.library.sweeps
    assert services.relay is None  # one replica: nobody to tell
    assert isinstance(services.generation.engine.app.connector, InMemoryConnector)  # no server on SQLite


async def test_postgres_graph_shares_one_job_queue_and_relay(make_services: Any, isolated_env: Path,
                                                             postgres_url: str) -> None:
    """Issue 14: on PostgreSQL the job engine is procrastinate on the same database, so a step deferred by one
    replica (here: a callback's finish) is in the queue every replica's worker reads; the relay carries events."""
    services = await make_services(make_settings(isolated_env, postgres_url, 'http://p.test'), start=False)
    services.migrate()
    relay, generation = services.relay, services.generation
    assert relay is not None and relay.replica_id == generation.worker_id
    assert not isinstance(generation.engine.app.connector, InMemoryConnector)
    assert await generation.engine.defer('finish', 42) is True
    assert await generation.engine.defer('finish', 42) is False  # the queueing lock collapses a duplicate
    jobs = await generation.engine.app.job_manager.list_jobs_async(queue=QUEUE, status='todo')
    assert [(j.task_name, j.task_kwargs, j.lock) for j in jobs] == [('nanogen.finish', {'prompt_id': 42}, 'prompt-42')]
    assert await generation.engine.live_prompt_ids() == {42}
