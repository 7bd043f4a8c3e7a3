"""Two live services against one PostgreSQL database (issue 14 item 10, in-process part): claims, stalled retry,
fencing (the lost race keeps the winner's files), stop during submit (no second submit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import select

from nanogen.bootstrap import Services
from nanogen.generation.requests import validate_request
from nanogen.images.storage import LocalStorage
from nanogen.models import Image, Prompt, Status
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status
from tests.support.waits import until

FAST_FAILOVER = dict(NANOGEN_WORKER_HEARTBEAT_S=0.5, NANOGEN_STALLED_AFTER_S=2)


class GatedStorage(LocalStorage):
    """The same directory as the other replica's store; the first put waits until the test opens the gate."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gate = asyncio.Event()
        self.held = asyncio.Event()
        self._first = True

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        if self._first:
            self._first = False
            self.held.set()
            await self.gate.wait()
        await super().put(key, data, content_type=content_type)


def silence_heartbeat(services: Services) -> None:
    """A worker that stops heart-beating (a frozen host) but keeps running its steps: a zombie."""
    async def no_heartbeat(worker_id: int) -> None:
        return None
    services.generation.engine.app.job_manager.update_heartbeat = no_heartbeat  # type: ignore[method-assign]


async def images_of(services: Services, pid: int) -> list[Image]:
    return await services.db.run(lambda s: list(s.exec(select(Image).where(Image.prompt_id == pid))))


async def test_stalled_worker_is_retried_elsewhere_and_the_lost_race_keeps_the_winners_files(
        fake, make_services, isolated_env: Path, postgres_url: str) -> None:
    provider, url = fake
    provider.config.send_callbacks = False
    # A long grace: when the zombie's worker notices it was pruned, its own stop would wait that long, so only the
    # survivor's stalled-job retry can finish the prompt within the wait below.
    settings = make_settings(isolated_env, postgres_url, url, NANOGEN_SHUTDOWN_GRACE=120, **FAST_FAILOVER)
    gated = GatedStorage(isolated_env / 'images')
    zombie = await make_services(settings, storage=gated, worker_id='zombie', start=False)
    silence_heartbeat(zombie)
    await zombie.start()
    uid = await add_user(zombie)
    prompt = await zombie.generation.create(uid, validate_request(prompt='a contested lighthouse', size=512))
    await asyncio.wait_for(gated.held.wait(), 20)  # the zombie is inside its finish step, storing attempt 1

    survivor = await make_services(make_settings(isolated_env, postgres_url, url, **FAST_FAILOVER),
                                   worker_id='survivor')
    done = await wait_status(survivor, prompt.id, {'COMPLETED', 'FAILED'}, timeout=30)
    assert done.status == Status.COMPLETED.value and done.finish_attempts == 2  # retried by the other worker
    (winner,) = await images_of(survivor, prompt.id)
    assert '-a2' in winner.key  # the retried attempt stored under its own keys

    gated.gate.set()  # the zombie wakes up, stores attempt 1 and loses the final compare-and-set
    await until(lambda: _zombie_gave_up(survivor, gated))
    row = await survivor.db.run(lambda s: s.get(Prompt, prompt.id))
    assert row.status == Status.COMPLETED.value and row.image_id == winner.id
    assert [i.id for i in await images_of(survivor, prompt.id)] == [winner.id]  # the loser wrote no row
    for key in (winner.key, winner.original_key, winner.thumb_key):
        assert await survivor.storage.exists(key), key  # and deleted none of the winner's files
    assert provider.submissions == 1


async def _zombie_gave_up(survivor: Services, gated: GatedStorage) -> bool:
    """The loser removed the objects of its own attempt (keys without '-a'), which no row points at."""
    keys = [p for p in (gated.root / 'users').rglob('*') if p.is_file()]
    return bool(keys) and all('-a2' in p.name for p in keys)


async def test_stop_during_submit_lets_the_submit_finish_and_nothing_is_sent_twice(
        fake, make_services, isolated_env: Path, postgres_url: str) -> None:
    provider, url = fake
    provider.config.timeout_rate, provider.config.hang_s = 1.0, 1.5  # every request takes 1.5 s to answer
    provider.config.send_callbacks = False
    settings = make_settings(isolated_env, postgres_url, url, NANOGEN_PROVIDER_TIMEOUT=10, **FAST_FAILOVER)
    first = await make_services(settings, worker_id='first')
    uid = await add_user(first)
    prompt = await first.generation.create(uid, validate_request(prompt='a deploy in the middle', size=512))

    async def attempt_recorded() -> bool:
        row = await first.db.run(lambda s: s.get(Prompt, prompt.id))
        return row.submit_attempts == 1
    await until(attempt_recorded)
    assert provider.submissions == 0  # the request is in the air
    first.begin_drain()
    await first.stop()  # a rolling deploy's SIGTERM: the shielded submit ends and its task id is saved
    row = await first.db.run(lambda s: s.get(Prompt, prompt.id))
    assert row.status == Status.PROCESSING.value and row.provider_task_id and row.suspect_submits == 0

    second = await make_services(make_settings(isolated_env, postgres_url, url, NANOGEN_PROVIDER_TIMEOUT=10,
                                               **FAST_FAILOVER), worker_id='second')
    done = await wait_status(second, prompt.id, {'COMPLETED', 'FAILED'}, timeout=30)
    assert done.status == Status.COMPLETED.value and done.suspect_submits == 0
    assert provider.submissions == 1


async def test_a_submit_cut_by_the_end_of_the_grace_is_resubmitted_flagged_and_costed(
        fake, make_services, isolated_env: Path, postgres_url: str) -> None:
    """The policy when a submit may have reached the provider but its task id was never saved: resubmit, and say so
    (suspect_submits, its estimate in the cost), never a silent second charge."""
    provider, url = fake
    provider.config.timeout_rate, provider.config.hang_s = 1.0, 1.5
    provider.config.send_callbacks = False
    settings = make_settings(isolated_env, postgres_url, url, NANOGEN_PROVIDER_TIMEOUT=10, NANOGEN_SHUTDOWN_GRACE=0.3,
                             **FAST_FAILOVER)
    first = await make_services(settings, worker_id='first')
    uid = await add_user(first)
    prompt = await first.generation.create(uid, validate_request(prompt='a deploy that will not wait', size=512))

    async def attempt_recorded() -> bool:
        row = await first.db.run(lambda s: s.get(Prompt, prompt.id))
        return row.submit_attempts == 1
    await until(attempt_recorded)
    first.begin_drain()
    await first.stop()  # the grace ends while the request is in the air: the submit is cut
    row = await first.db.run(lambda s: s.get(Prompt, prompt.id))
    assert row.status == Status.PENDING.value and row.provider_task_id is None and row.submit_attempts == 1

    provider.config.timeout_rate = 0.0
    second = await make_services(make_settings(isolated_env, postgres_url, url, **FAST_FAILOVER), worker_id='second')
    done = await wait_status(second, prompt.id, {'COMPLETED', 'FAILED'}, timeout=30)
    assert done.status == Status.COMPLETED.value and done.suspect_submits == 1
    assert done.cost == second.settings.price_for(512) + done.estimated_cost  # the possible extra charge is counted
    assert second.generation.steps.suspect_submits == 1  # the metric's source


@pytest.mark.parametrize('n', [6])
async def test_two_workers_share_prompts_and_each_is_submitted_once(fake, make_services, isolated_env: Path,
                                                                    postgres_url: str, n: int) -> None:
    provider, url = fake
    provider.config.send_callbacks = False
    a = await make_services(make_settings(isolated_env, postgres_url, url), worker_id='a')
    b = await make_services(make_settings(isolated_env, postgres_url, url, NANOGEN_WORKER_CONCURRENCY=1),
                            worker_id='b')
    uid = await add_user(a)
    ids = [(await (a if k % 2 else b).generation.create(uid, validate_request(prompt=f'shared {k}'))).id
           for k in range(n)]
    for pid in ids:
        done = await wait_status(a, pid, {'COMPLETED', 'FAILED'}, timeout=30)
        assert done.status == Status.COMPLETED.value, done.error_message
        assert done.submit_attempts == 1 and done.finish_attempts == 1 and done.claim_token is None
    assert provider.submissions == n
