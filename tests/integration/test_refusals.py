"""Refusals and models that are down, through the generation service against the contract fake over HTTP."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from nanogen.events import PromptEvent
from nanogen.generation.requests import validate_request
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status


async def run(services: object, model: str, prompt: str = 'a quiet harbour') -> object:
    uid = await add_user(services)  # type: ignore[arg-type]
    req = validate_request(prompt=prompt, model=model, settings=services.settings)  # type: ignore[attr-defined]
    created = await services.generation.create(uid, req)  # type: ignore[attr-defined]
    return await wait_status(services, created.id, {'COMPLETED', 'FAILED'})  # type: ignore[arg-type]


async def test_nano_banana_2_refusal_shows_the_reason_and_costs_nothing(fake, make_services, isolated_env: Path,
                                                                        database_url: str) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url))
    done = await run(services, 'nanobanana-2', 'something forbidden')
    assert done.status == 'FAILED' and done.provider_task_id in provider.tasks  # accepted, then refused
    assert done.error_message == (
        'The provider refused this prompt under its content policy: The request was blocked: it may contain '
        'sensitive content (content policy). You were not charged. Rephrase the prompt (or change the reference '
        'images), then try again.')
    assert done.cost == Decimal(0) and done.billed_operation is None


@pytest.mark.parametrize('model', ['nanobanana', 'nanobanana-pro'])
async def test_code_400_refusal_at_submit_quotes_the_provider(fake, make_services, isolated_env: Path,
                                                              model: str) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/r.db', url))
    done = await run(services, model, 'forbidden fruit')
    assert done.status == 'FAILED' and done.provider_task_id is None and provider.submissions == 0
    assert done.error_message.startswith('The provider refused this prompt under its content policy: Your prompt '
                                         'was flagged by the content policy. You were not charged.')
    assert done.cost == Decimal(0)


@pytest.mark.parametrize('code, why', [(505, 'switched off for now'), (455, 'under maintenance')])
async def test_a_model_that_is_down_says_so_promptly_and_offers_the_others(fake, make_services, isolated_env: Path,
                                                                           code: int, why: str) -> None:
    """The generation timeout stays at its default (10 minutes): 505 fails at once, 455 after a short bounded retry
    (NANOGEN_MODEL_DOWN_WAIT, here 5 s) whose live line names the model."""
    provider, url = fake
    provider.config.down_endpoints, provider.config.down_code = ('generate-2',), code
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/d.db', url,
                                                 NANOGEN_MODEL_DOWN_WAIT=5))
    assert services.settings.generation_timeout_s == 600
    events: list[PromptEvent] = []
    services.bus.subscribe(events.append)
    started = time.monotonic()
    uid = await add_user(services)
    created = await services.generation.create(uid, validate_request(prompt='a quiet harbour', model='nanobanana-2',
                                                                     settings=services.settings))
    done = await wait_status(services, created.id, {'COMPLETED', 'FAILED'}, timeout=40)
    assert time.monotonic() - started < 40  # not the 10-minute generation timeout
    assert done.status == 'FAILED' and done.cost == Decimal(0)
    assert done.error_message == (
        f'Nano Banana 2 is unavailable at the provider ({why}, code {code}); you were not charged. Try Nano Banana '
        '(nanobanana) or Nano Banana Pro (nanobanana-pro) instead.')
    submits = provider.calls['/api/v1/nanobanana/generate-2']
    if code == 455:  # retried: more submits than the client's own attempts (1 + NANOGEN_PROVIDER_RETRIES=3)...
        assert submits > 4, submits
        assert any(e.message.startswith('Nano Banana 2 is under maintenance at the provider. Retrying in')
                   for e in events), [e.message for e in events]  # ...saying which model meanwhile
    else:
        assert submits == 1  # 505 is final: never retried
    other = await run(services, 'nanobanana-pro')  # the other model still works
    assert other.status == 'COMPLETED', other.error_message


def test_a_model_in_maintenance_is_retried_about_half_a_minute_by_default(isolated_env: Path) -> None:
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/s.db', 'http://127.0.0.1:1')
    assert settings.model_down_wait_s == 30 and settings.generation_timeout_s == 600
