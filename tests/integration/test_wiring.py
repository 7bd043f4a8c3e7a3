"""build_services wires every collaborator through a constructor: budget, sweeps, and wake-ups across replicas."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from nanogen.generation.service import _Job
from tests.conftest import make_settings


async def test_sqlite_graph_gets_its_collaborators_at_construction(make_services: Any, isolated_env: Path) -> None:
    """Issue 13 (constructor injection): the budget check and the gallery's sweep arrive through constructors."""
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/w.db', 'http://p.test'),
                                   start=False)
    assert services.generation.budget_check == services.budget.check
    assert services.gallery.purge_deleted in services.library.sweeps
    assert services.relay is None and services.generation.remote_wake is None  # one replica: nobody to wake


async def test_postgres_relay_and_generation_reach_each_other(make_services: Any, isolated_env: Path,
                                                              postgres_url: str) -> None:
    """Issue 13: the relay <-> generation cycle is broken by the Wakeups hub: a wake-up the relay receives reaches
    the job this process drives, and generation forwards remote wake-ups to the relay."""
    services = await make_services(make_settings(isolated_env, postgres_url, 'http://p.test'), start=False)
    relay, generation = services.relay, services.generation
    assert relay is not None and generation.remote_wake == relay.wake
    assert relay.replica_id == generation.worker_id
    wake = asyncio.Event()
    generation._jobs[42] = _Job(task=asyncio.current_task(), wake=wake)  # type: ignore[arg-type]
    try:
        assert relay.on_wake is not None
        assert relay.on_wake(42) is True and wake.is_set()
        assert relay.on_wake(43) is False  # not driven here
    finally:
        generation._jobs.clear()
