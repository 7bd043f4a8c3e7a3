"""A real start of app.py (the `user` fixture runs it and enters its lifespan): what happens once per process."""

from __future__ import annotations

import asyncio
import logging

import pytest
from nicegui import background_tasks
from nicegui.testing import User

from tests.ui.studio import app_services

MIGRATED = 'database schema is up to date'


async def test_a_start_migrates_the_database_once(user: User, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 12 finding 5: app.py migrated before serving and Services.start migrated again (logged twice)."""
    await user.open('/login')
    # NiceGUI runs startup handlers as background tasks ('func start'): wait for ours to finish before counting.
    await asyncio.gather(*[t for t in background_tasks.running_tasks if t.get_name() == 'func start'])
    assert app_services().extras.get('started'), 'Services.start never ran'
    migrated = [r for when in ('setup', 'call') for r in caplog.get_records(when)  # type: ignore[arg-type]
                if r.name == 'nanogen.db' and r.levelno == logging.INFO and r.getMessage() == MIGRATED]
    assert len(migrated) == 1
