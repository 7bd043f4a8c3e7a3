"""Drill: a misbehaving provider (rate limits, 5xx, hangs, broken JSON) loses no generation and bills none twice."""

from __future__ import annotations

from pathlib import Path

from nanogen.generation.requests import validate_request
from nanogen.models import Status
from tests.conftest import make_settings
from tests.drills.conftest import DRILL_PROMPT, add_user, assert_costs, assert_not_double_billed, wait_all_ended

GENERATIONS = 100
LOST_ANSWER = 'may still have been charged'


async def test_hundred_generations_against_a_faulty_provider_all_end_and_none_is_billed_twice(
        fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    cfg = provider.config
    cfg.latency_s, cfg.send_callbacks, cfg.seed = 0.3, False, 20261124
    cfg.rate_limit_rate, cfg.error_rate, cfg.timeout_rate, cfg.hang_s, cfg.malformed_rate = 0.2, 0.1, 0.05, 2.0, 0.05
    cfg.credits = 10_000
    provider._rng.seed(cfg.seed)
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/drill.db', url, NANOGEN_PROVIDER_TIMEOUT=1.0,
                             NANOGEN_PROVIDER_RETRIES=4, NANOGEN_MAX_CONCURRENT_PER_USER=GENERATIONS,
                             NANOGEN_POLL_INITIAL=0.2, NANOGEN_POLL_MAX=0.5)
    services = await make_services(settings)
    services.client._backoff_base = 0.05  # the drill is about outcomes, not about waiting out real backoff
    uid = await add_user(services)
    ids = [(await services.generation.create(uid, validate_request(prompt=DRILL_PROMPT, size=512))).id
           for _ in range(GENERATIONS)]

    rows = await wait_all_ended(services, ids, timeout=90)

    statuses = [r.status for r in rows]
    assert set(statuses) <= {Status.COMPLETED.value, Status.FAILED.value}
    assert statuses.count(Status.COMPLETED.value) >= GENERATIONS * 0.7, statuses  # most ride the faults out
    assert_costs(services, rows)
    assert_not_double_billed(services, provider, rows)
    # Rate limits, 5xx and unreadable polls are ridden out; the only failures are submits whose answer was lost
    # (hang past the timeout, broken JSON). Those say they may have been charged (the client never resends them),
    # and only they may have a task at the provider that the app never learned of.
    failed = [r for r in rows if r.status == Status.FAILED.value]
    assert all(LOST_ANSWER in (r.error_message or '') for r in failed), {r.error_message for r in failed}
    orphans = {task_id for task_id in provider.tasks} - {r.provider_task_id for r in rows}
    lost_answers = [r for r in rows if r.error_message and LOST_ANSWER in r.error_message]
    assert len(orphans) <= len(lost_answers)
    assert all(r.provider_task_id is None for r in lost_answers)
    assert provider.submissions == sum(1 for r in rows if r.provider_task_id) + len(orphans)
    # The drill really drilled: faults hit submits, and retries (not luck) carried the rest through.
    assert lost_answers and provider.calls['/api/v1/nanobanana/generate'] > GENERATIONS
