"""The UI tests wait through one helper with one timeout (tests/ui/helpers.py), never with their own short waits."""

from __future__ import annotations

import re
from pathlib import Path

from nicegui import ui
from nicegui.testing import User

from tests.ui.helpers import WAIT_S, should_see, sign_in

UI_TESTS = Path(__file__).resolve().parent
LATE_S = 3.0  # later than the 2 s the history filter test used to wait, well inside WAIT_S


async def test_should_see_waits_for_text_that_appears_late(user: User) -> None:
    """Issue 12 finding 15: a test waited only ~2 s (`retries=20`) for a filter result and failed under load."""
    assert WAIT_S > LATE_S + 1

    @ui.page('/wait-probe')
    def probe() -> None:
        ui.timer(LATE_S, lambda: ui.label('the slow result'), once=True)

    await sign_in(user)
    await user.open('/wait-probe')
    await should_see(user, 'the slow result')


def test_no_ui_test_has_its_own_wait() -> None:
    """Issue 12 finding 15: every wait uses the helpers' timeout, so none is shorter than the rest of the suite's."""
    # NiceGUI's own should_see (0.3 s unless told), a literal `timeout=` (a multiple of WAIT_S is fine) or a sleep
    # loop is a wait of its own.
    own_waits = re.compile(r'\.should_(not_)?see\(|retries=|timeout=[\d.]+\s*[,)]|asyncio\.sleep\(')
    found = [f'{path.name}:{number}: {line.strip()}'
             for path in sorted(UI_TESTS.glob('*.py')) if path.name not in ('helpers.py', 'test_waits.py')
             for number, line in enumerate(path.read_text().splitlines(), 1) if own_waits.search(line)]
    assert found == [], 'use eventually/should_see from tests/ui/helpers.py:\n' + '\n'.join(found)


async def test_a_page_slower_than_nicegui_default_timeout_still_answers(user: User) -> None:
    """Busy cores made /dashboard take over NiceGUI's default 3 s: the user got a 500 instead of a slow page."""
    import asyncio

    from pages.frame import PageContext, guarded_page

    @guarded_page('/test-slow-page', title='Slow')
    async def slow_page(ctx: PageContext) -> None:
        await asyncio.sleep(3.5)
        ui.label('built at last')

    await sign_in(user)
    await user.open('/test-slow-page')
    await should_see(user, 'built at last')
