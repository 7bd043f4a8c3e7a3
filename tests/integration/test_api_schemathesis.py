"""Schemathesis against the app served over real HTTP: no 5xx, and every answer matches the OpenAPI schema."""

from __future__ import annotations

import asyncio

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from nicegui import app
from nicegui.testing import User
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.integration.api_support import api_user
from tests.support.inloop import serve_in_loop

MAX_EXAMPLES = 25  # per operation and mode; 8 operations keep the run well under two minutes


@pytest.fixture
def roomy_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hundreds of requests a minute are the point here; the limits themselves are tested elsewhere.
    monkeypatch.setenv('NANOGEN_API_RATE_PER_MINUTE', '100000')
    monkeypatch.setenv('NANOGEN_MAX_CONCURRENT_PER_USER', '1000')


def fuzz(base_url: str, token: str) -> list[str]:
    """Runs in a worker thread (Schemathesis is synchronous) while the test's loop serves the app."""
    auth = {'Authorization': f'Bearer {token}'}
    schema = schemathesis.openapi.from_url(f'{base_url}/api/openapi.json', headers=auth)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        for mode in GenerationMode:  # valid requests, and requests that break the schema (they must get 4xx)
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=base_url, headers=auth, timeout=30,
                                       checks=[not_a_server_error, response_schema_conformance])
            try:
                check()
            except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failure, report them together
                failures.append(f'{operation.label} ({mode.value}): {exc}')
    return failures


async def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(roomy_limits: None, user: User) -> None:
    api = await api_user(user)
    # something to read, delete and page through
    for n in range(3):
        r = await api.client.post('/api/v1/images/generate', json={'prompt': f'seed image {n}'})
        assert r.status_code == 202
    async with serve_in_loop(app) as base_url:
        failures = await asyncio.to_thread(fuzz, base_url, api.token)
    assert not failures, '\n\n'.join(failures)
