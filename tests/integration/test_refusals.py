"""Refusals and models that are down, through the generation service against the contract fake over HTTP."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

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
async def test_a_model_that_is_down_says_so_and_offers_the_others(fake, make_services, isolated_env: Path, code: int,
                                                                  why: str) -> None:
    provider, url = fake
    provider.config.down_endpoints, provider.config.down_code = ('generate-2',), code
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/d.db', url,
                                                 NANOGEN_GENERATION_TIMEOUT=1.5))
    done = await run(services, 'nanobanana-2')
    assert done.status == 'FAILED' and done.cost == Decimal(0)
    assert done.error_message == (
        f'Nano Banana 2 is unavailable at the provider ({why}, code {code}); you were not charged. Try Nano Banana '
        '(nanobanana) or Nano Banana Pro (nanobanana-pro) instead.')
    other = await run(services, 'nanobanana-pro')  # the other model still works
    assert other.status == 'COMPLETED', other.error_message
