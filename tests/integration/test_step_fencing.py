"""Fencing of the failure paths (issue 14 item 6): two executions of one prompt's finish step (a stalled job retried
while its first run still goes on); the one another has claimed past must not fail the winner's prompt."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from nanogen.bootstrap import Services
from nanogen.errors import ProviderRejected
from nanogen.generation.requests import validate_request
from nanogen.images.storage import LocalStorage
from nanogen.models import Image, Prompt, Status
from nanogen.provider.client import TaskRecord, TaskState
from tests.conftest import make_settings
from tests.integration.test_generation import add_user
from tests.support.waits import until


class TwoAttemptStorage(LocalStorage):
    """Holds each finish attempt's first put until the test lets it go; the first attempt's (keys without '-a2')
    then breaks in a way no handler expects (`broken`), so that execution lands in its catch-all."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.held = {1: asyncio.Event(), 2: asyncio.Event()}
        self.gate = {1: asyncio.Event(), 2: asyncio.Event()}
        self.broken = False

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        attempt = 2 if '-a2' in key else 1
        if not self.held[attempt].is_set():
            self.held[attempt].set()
            await self.gate[attempt].wait()
            if attempt == 1 and self.broken:
                raise RuntimeError('an unexpected fault in the losing execution')
        await super().put(key, data, content_type=content_type)


class SlowRejectingClient:
    """The real client, except that the first record-info waits for the test, then is rejected by the provider."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.asked = asyncio.Event()
        self.gate = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def record_info(self, task_id: str) -> TaskRecord:
        if not self.asked.is_set():
            self.asked.set()
            await self.gate.wait()
            raise ProviderRejected('The provider no longer knows this task.')
        record: TaskRecord = await self._client.record_info(task_id)
        return record


async def submitted_and_done(services: Services, provider: Any, text: str) -> int:
    """A prompt submitted by its step and finished at the provider, with no worker to drive it further."""
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt=text, size=512))
    assert prompt.id is not None
    await services.generation.steps.submit(prompt.id)

    async def provider_done() -> bool:
        row = await services.db.run(lambda s: s.get(Prompt, prompt.id))
        record = await provider_client(services).record_info(row.provider_task_id)
        return record.state is not TaskState.GENERATING
    await until(provider_done)
    return prompt.id


def provider_client(services: Services) -> Any:
    client = services.generation.steps.client
    return client._client if isinstance(client, SlowRejectingClient) else client


@pytest.mark.parametrize('loser_fails_by', ['unexpected-error', 'provider-rejected'])
async def test_a_losing_executions_failure_does_not_fail_the_winners_prompt(
        fake, make_services, isolated_env: Path, database_url: str, loser_fails_by: str) -> None:
    provider, url = fake
    provider.config.send_callbacks = False
    storage = TwoAttemptStorage(isolated_env / 'images')
    # No worker: the test runs the two executions itself, in the order that matters.
    services = await make_services(make_settings(isolated_env, database_url, url), storage=storage, start=False)
    steps = services.generation.steps
    pid = await submitted_and_done(services, provider, 'a contested harbour')

    if loser_fails_by == 'unexpected-error':  # the loser claims the row (attempt 1), then breaks while storing
        storage.broken = True
        loser = asyncio.create_task(steps.finish(pid))
        await asyncio.wait_for(storage.held[1].wait(), 10)
        winner_attempt = 2
    else:  # the loser has read the row and waits for the provider, which then rejects the task
        slow = SlowRejectingClient(steps.client)
        steps.client = slow
        loser = asyncio.create_task(steps.finish(pid))
        await asyncio.wait_for(slow.asked.wait(), 10)
        winner_attempt = 1

    winner = asyncio.create_task(steps.finish(pid))  # the stalled job retried: it claims the row past the loser
    await asyncio.wait_for(storage.held[winner_attempt].wait(), 10)  # and is storing its images

    (storage.gate[1] if loser_fails_by == 'unexpected-error' else slow.gate).set()
    await asyncio.wait_for(loser, 10)  # the loser's failure path ran
    row = await services.db.run(lambda s: s.get(Prompt, pid))
    assert row.status == Status.PROCESSING.value, row.error_message  # and wrote nothing

    storage.gate[winner_attempt].set()
    await asyncio.wait_for(winner, 10)
    row = await services.db.run(lambda s: s.get(Prompt, pid))
    assert row.status == Status.COMPLETED.value and row.error_message is None
    images = await services.db.run(lambda s: list(s.exec(select(Image).where(Image.prompt_id == pid))))
    assert [i.id for i in images] == [row.image_id]
    assert await storage.exists(images[0].key)
