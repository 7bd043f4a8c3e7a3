"""Fixtures the integration modules share: the library's two-user studio, and one moto S3 server per module."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nanogen.bootstrap import Services
from tests.conftest import make_settings
from tests.support.s3 import moto_s3_server

_bucket_numbers = itertools.count()


@pytest.fixture
async def studio(fake: Any, make_services: Any, isolated_env: Path, database_url: str) -> tuple[Services, int, int]:
    """Services with a 0.3 s undo window and two users, Ada and Bob: (services, ada, bob)."""
    from tests.integration.test_generation import add_user
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url, NANOGEN_UNDO_WINDOW=0.3))
    ada = await add_user(services, 'ada@example.com')
    bob = await add_user(services, 'bob@example.com')
    return services, ada, bob


@pytest.fixture(scope='module')
def endpoint() -> Iterator[str]:
    """One moto S3 server per test module (import this fixture into the module)."""
    with moto_s3_server() as url:
        yield url


@pytest.fixture
def bucket() -> str:
    return f'nanogen-test-{next(_bucket_numbers)}'  # moto's state lives as long as the server: one per test
