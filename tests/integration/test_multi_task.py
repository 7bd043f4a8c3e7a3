"""Several images from a one-image model (no numImages): one provider task per image, all recorded on one prompt,
against the contract fake over HTTP on SQLite and PostgreSQL; a restart between task submits loses none and
resubmits no saved one."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from nanogen.generation.requests import validate_request
from nanogen.models import Image, Prompt
from nanogen.provider.client import GenerateRequest
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status


async def images_of(services: object, pid: int) -> list[Image]:
    return await services.db.run(lambda s: list(s.exec(  # type: ignore[attr-defined]
        select(Image).where(Image.prompt_id == pid).order_by(Image.position))))


async def test_three_images_from_nano_banana_2_are_three_tasks_on_one_prompt(fake, make_services, isolated_env: Path,
                                                                             database_url: str) -> None:
    provider, url = fake
    provider.config.latency_s = 0.05
    services = await make_services(make_settings(isolated_env, database_url, url))
    uid = await add_user(services)
    req = validate_request(prompt='three lighthouses at dusk', model='nanobanana-2', resolution='2K', num_images=3,
                           aspect_ratio='16:9', settings=services.settings)
    assert req.estimated_cost(services.settings) == Decimal('0.18')  # shown before submitting: 3 x 0.06
    prompt = await services.generation.create(uid, req)
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'}, timeout=60)
    assert done.status == 'COMPLETED', done.error_message
    assert provider.submissions == 3 and done.submit_attempts == 3 and done.suspect_submits == 0
    ids = json.loads(done.task_ids)
    assert len(set(ids)) == 3 and done.provider_task_id == ids[0]
    assert all(provider.tasks[t].num_images == 1 for t in ids)  # each task asked for one image
    images = await images_of(services, done.id)
    assert [i.position for i in images] == [0, 1, 2] and done.image_id == images[0].id
    assert all((i.width, i.height) == (1536, 864) for i in images)
    assert done.cost == Decimal('0.18') and done.error_message is None


@pytest.mark.parametrize('attempts, suspect', [(1, 0), (2, 1)])
async def test_a_restart_between_task_submits_resubmits_no_saved_task_and_loses_none(
        fake, make_services, isolated_env: Path, database_url: str, attempts: int, suspect: int) -> None:
    """The process died after task 1 of 3 was saved (attempts=1), or also after task 2 was sent but before its id
    was saved (attempts=2: maybe billed, so counted and flagged)."""
    provider, url = fake
    provider.config.latency_s = 0.05
    services = await make_services(make_settings(isolated_env, database_url, url), start=False)
    services.migrate()
    uid = await add_user(services)
    sent = [await services.generation.client.submit(GenerateRequest(
        prompt='a restarted lighthouse', callback_url='https://callbacks-disabled.invalid/x', model='nanobanana-2',
        resolution='1K')) for _ in range(attempts)]

    def insert(s: object) -> int:
        row = Prompt(user_id=uid, prompt='a restarted lighthouse', model='nanobanana-2', resolution='1K',
                     num_images=3, estimated_cost=Decimal('0.12'), submit_attempts=attempts,
                     task_ids=json.dumps(sent[:1]))
        s.add(row)  # type: ignore[attr-defined]
        s.commit()  # type: ignore[attr-defined]
        assert row.id is not None
        return row.id
    pid = await services.db.write(insert)
    await services.start()  # resumes the PENDING prompt: its submit step goes on from task 2
    done = await wait_status(services, pid, {'COMPLETED', 'FAILED'}, timeout=60)
    assert done.status == 'COMPLETED', done.error_message
    ids = json.loads(done.task_ids)
    assert ids[0] == sent[0] and len(set(ids)) == 3  # the saved task kept, two more: none resubmitted, none lost
    assert provider.submissions == attempts + 2
    assert done.suspect_submits == suspect and done.submit_attempts == attempts + 2
    assert len(await images_of(services, pid)) == 3
    assert done.cost == Decimal('0.12') + Decimal('0.04') * suspect  # a possibly billed lost task is counted


async def test_each_task_of_a_prompt_records_what_it_billed_and_the_prompt_costs_their_sum(
        fake, make_services, isolated_env: Path, database_url: str) -> None:
    """Three one-image tasks at 1K; the provider bills the second at 4K: every operationType is recorded (task
    order), the mismatch flagged, and the cost is 0.04 + 0.08 + 0.04, not three times the first task's price."""
    provider, url = fake
    provider.config.latency_s = 0.05
    services = await make_services(make_settings(isolated_env, database_url, url))
    uid = await add_user(services)
    original = provider._record_data

    def second_billed_at_4k(task: Any, base_url: str) -> dict[str, Any]:
        data = original(task, base_url)
        if data['successFlag'] == 1 and task.task_id == list(provider.tasks)[1]:
            data['operationType'] = 'nano-banana-pro_4k'  # also a different model: the longest the column holds
        return data

    provider._record_data = second_billed_at_4k  # type: ignore[method-assign]
    req = validate_request(prompt='three lighthouses at dusk', model='nanobanana-2', resolution='1K', num_images=3,
                           settings=services.settings)
    assert req.estimated_cost(services.settings) == Decimal('0.12')
    done = await wait_status(services, (await services.generation.create(uid, req)).id, {'COMPLETED', 'FAILED'},
                             timeout=60)
    assert done.status == 'COMPLETED', done.error_message
    ids = json.loads(done.task_ids)
    assert ids == list(provider.tasks)  # task order is submission order
    assert done.billed_operation == 'nano-banana-2_1k,nano-banana-pro_4k,nano-banana-2_1k'
    assert done.billing_mismatch is True
    pro_4k = services.settings.price_for_resolution('nanobanana-pro', '4K')
    assert done.cost == Decimal('0.04') + pro_4k + Decimal('0.04')
