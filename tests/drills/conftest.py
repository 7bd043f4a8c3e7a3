"""Helpers for the fault drills: many generations at once, waited on together, checked for loss and double billing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from decimal import Decimal

from itsdangerous import URLSafeSerializer
from sqlmodel import col, select

from nanogen.bootstrap import Services
from nanogen.config import Settings
from nanogen.models import UNFINISHED, Prompt, Status
from nanogen.provider.fake import FakeProvider

DRILL_PROMPT = 'a lighthouse in a storm'  # one text for all: the fake draws (and caches) a single picture


async def add_user(services: Services, email: str = 'drill@example.com') -> int:
    user = await services.users.sign_in(subject=f'local:{email}', email=email, name='Drill')
    assert user.id is not None
    return user.id


async def all_prompts(services: Services, ids: Iterable[int] | None = None) -> list[Prompt]:
    wanted = list(ids) if ids is not None else None

    def load(s) -> list[Prompt]:  # type: ignore[no-untyped-def]
        query = select(Prompt).order_by(col(Prompt.id))
        if wanted is not None:
            query = query.where(col(Prompt.id).in_(wanted))
        return list(s.exec(query))
    return await services.db.run(load)


async def wait_all_ended(services: Services, ids: list[int], *, timeout: float) -> list[Prompt]:
    """Wait until every prompt is COMPLETED/FAILED/CANCELLED; fail naming the ones still stuck."""
    deadline = time.monotonic() + timeout
    rows: list[Prompt] = []
    while time.monotonic() < deadline:
        try:
            rows = await all_prompts(services, ids)
        except Exception:  # the database may be the thing under drill: keep asking
            await asyncio.sleep(0.2)
            continue
        if len(rows) == len(ids) and all(Status(r.status).finished for r in rows):
            return rows
        await asyncio.sleep(0.2)
    stuck = [(r.id, r.status) for r in rows if r.status in UNFINISHED]
    raise AssertionError(f'{len(stuck)} generation(s) never ended: {stuck[:10]}')


def task_owner(secret_key: str, provider: FakeProvider, task_id: str) -> int:
    """The prompt id a provider task was submitted for, read from the signed token in its callback URL."""
    token = provider.tasks[task_id].params['callBackUrl'].rsplit('/', 1)[1]
    return int(URLSafeSerializer(secret_key, salt='nanogen.callback').loads(token)['p'])


def assert_not_double_billed(services: Services | str, provider: FakeProvider, rows: list[Prompt]) -> None:
    """Every provider task belongs to exactly one prompt, and no prompt owns two tasks."""
    secret_key = services if isinstance(services, str) else services.secret_key
    owners: dict[int, list[str]] = {}
    for task_id in provider.tasks:
        owners.setdefault(task_owner(secret_key, provider, task_id), []).append(task_id)
    twice = {pid: tasks for pid, tasks in owners.items() if len(tasks) > 1}
    assert not twice, f'prompts submitted more than once: {twice}'
    task_ids = [r.provider_task_id for r in rows if r.provider_task_id]
    assert len(task_ids) == len(set(task_ids)), 'two prompts share a provider task id'
    for row in rows:
        if row.provider_task_id:
            assert owners.get(row.id or 0) == [row.provider_task_id], f'prompt {row.id} points at a foreign task'
    assert provider.submissions == len(provider.tasks)


def assert_costs(services: Services | Settings, rows: list[Prompt]) -> None:
    """A completed prompt costs its price per image; a failed one says why and costs nothing or its estimate."""
    settings = services if isinstance(services, Settings) else services.settings
    for row in rows:
        if row.status == Status.COMPLETED.value:
            assert row.cost == settings.price_for(row.image_size, row.model) * row.num_images, row.id
            assert row.image_id is not None
        elif row.status == Status.FAILED.value:
            assert row.error_message, f'prompt {row.id} failed without a message'
            assert row.cost in (Decimal(0), row.estimated_cost)
