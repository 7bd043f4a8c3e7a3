"""Issue 13 (pages get a narrow context): the pages' `Studio` facade carries services, never the database handle,
HTTP client, storage or provider client, and no page reaches for them."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from nanogen.db import Database
from nanogen.images.s3 import S3Storage
from nanogen.images.storage import LocalStorage
from nanogen.provider.client import NanobananaClient
from nanogen.studio import Studio
from tests.conftest import make_settings

PAGES = Path(__file__).resolve().parents[2] / 'pages'
FORBIDDEN = {'db', 'http', 'storage', 'client'}
RAW = (Database, httpx.AsyncClient, LocalStorage, S3Storage, NanobananaClient)


async def test_the_facade_has_no_db_http_storage_or_client(make_services: Callable[..., Any], tmp_path: Path) -> None:
    """Issue 13: neither the Studio's fields nor the built object hold a raw handle, under any name."""
    assert not FORBIDDEN & {f.name for f in dataclasses.fields(Studio)}
    services = await make_services(make_settings(tmp_path, f'sqlite:///{tmp_path}/s.db', 'http://x.invalid'),
                                   start=False)
    studio = services.studio()
    for name in FORBIDDEN:
        assert not hasattr(studio, name), name
    for f in dataclasses.fields(studio):
        assert not isinstance(getattr(studio, f.name), RAW), f.name


async def test_the_facade_and_its_settings_are_read_only(make_services: Callable[..., Any], tmp_path: Path) -> None:
    """Issue 13: a page can neither swap a service nor change a setting for everyone."""
    services = await make_services(make_settings(tmp_path, f'sqlite:///{tmp_path}/s.db', 'http://x.invalid'),
                                   start=False)
    studio = services.studio()
    with pytest.raises(dataclasses.FrozenInstanceError):
        studio.library = None  # type: ignore[misc]
    with pytest.raises(ValidationError):
        studio.settings.public_url = 'https://evil.example'
    assert studio.settings.public_url == services.settings.public_url
    assert studio.settings.max_concurrent_per_user == services.settings.max_concurrent_per_user
    assert services.settings.public_url != 'https://evil.example'


def _chain(node: ast.expr) -> list[str]:
    """The names along `a.b().c`: ['a', 'b', 'c'] (calls are looked through)."""
    names: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.insert(0, node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            return [node.id, *names]
        else:
            return names


def _raw_handle_uses(source: str) -> list[str]:
    """`ctx.services.db`, `services().http`, `ctx.services.library.db`, `app.state` ...: a page reaching past the
    facade (`ui.context.client`, the NiceGUI client, is not a service's)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = _chain(node.value)
        if node.attr in FORBIDDEN and {'services', 'svc', 'studio'} & set(owner):
            found.append('.'.join([*owner, node.attr]))
        if node.attr == 'state' and owner[-1:] == ['app']:
            found.append('app.state')
    return found


def test_the_scan_finds_a_raw_handle() -> None:
    code = ('await stats.by_size(ctx.services.db, 1)\nservices().http.get(u)\napp.state.services\nsvc.storage\n'
            'self.ctx.services.library.db.run(f)\nui.context.client.open(p)\n')
    assert sorted(_raw_handle_uses(code)) == ['app.state', 'ctx.services.db', 'self.ctx.services.library.db',
                                              'services.http', 'svc.storage']


@pytest.mark.parametrize('page', sorted(PAGES.glob('*.py')), ids=lambda p: p.name)
def test_no_page_reaches_past_the_facade(page: Path) -> None:
    """Issue 13: pages call services (ctx.services.stats.by_size(...)), never the db/http/storage/client."""
    assert _raw_handle_uses(page.read_text()) == []
