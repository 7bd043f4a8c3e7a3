"""One look across the pages (issue 12 finding 14): button case, ISO dates, clamped prompts, readable status lines,
an honest spend line."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from nicegui import ui
from nicegui.testing import User

from nanogen.generation.requests import validate_request
from nanogen.ops.stats import DayStat
from tests.ui.helpers import elements, eventually, sign_in
from tests.ui.studio import app_services, job_of, user_id, wait_finished, wait_for_cards

LONG_PROMPT = ('a very detailed scene, ' * 87)[:2000]
# The job card is one custom element: its buttons and lines are in this template, not NiceGUI elements.
JOB_CARD_JS = Path(__file__).resolve().parents[2] / 'pages' / '_job_card.js'


async def test_buttons_keep_their_sentence_case_on_every_page(user: User) -> None:
    """Issue 12 finding 14: GENERATE, DOWNLOAD, OPEN IN GALLERY next to Favourite, Create link."""
    await sign_in(user, then='/generator')
    for path in ('/dashboard', '/generator', '/gallery', '/history', '/analytics', '/profile'):
        await user.open(path)
        buttons = elements(user, kind=ui.button)
        assert buttons, path
        shouting = [b for b in buttons if not b.props.get('no-caps')]
        assert shouting == [], f'{path}: {[b.props.get("label") or b.props.get("icon") for b in shouting]}'
    card_buttons = re.findall(r'<q-btn\b[^>]*>', JOB_CARD_JS.read_text())  # Cancel ... Download, Open in gallery
    assert len(card_buttons) == 7 and all(' no-caps ' in b for b in card_buttons), card_buttons


async def test_date_filters_show_iso_dates(user: User) -> None:
    """Issue 12 finding 14: the browser's type=date showed mm/dd/yyyy while the app writes ISO dates."""
    await sign_in(user, then='/history')
    for path, markers in (('/history', ('filter-from', 'filter-to')), ('/gallery', ('date-from', 'date-to')),
                          ('/analytics', ('range-from', 'range-to'))):
        await user.open(path)
        for marker in markers:
            (field,) = user.find(marker=marker).elements
            assert field.props.get('type') != 'date', f'{path} {marker}'
            assert field.props.get('mask') == '####-##-##' and field.props.get('placeholder') == 'yyyy-mm-dd'


async def test_a_long_prompt_is_clamped_on_its_card_and_expands(user: User) -> None:
    """Issue 12 finding 14: a 2,000-character prompt was printed in full on its card."""
    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    prompt = await services.generation.create(uid, validate_request(prompt=LONG_PROMPT))
    short = await services.generation.create(uid, validate_request(prompt='a short one'))
    await user.open('/generator')
    await wait_for_cards(user, 2)
    job = job_of(user, prompt.id)
    assert job['prompt'] == LONG_PROMPT.strip()  # the whole text is there, only clamped on screen
    assert job['long'] is True  # clamped, with More (tests/browser/test_job_card_browser.py clicks More and Less)
    assert job_of(user, short.id)['long'] is False  # a short prompt needs no toggle
    template = JOB_CARD_JS.read_text()
    assert ":class=\"{ 'line-clamp-3': clamped }\">{{ job.prompt }}" in template  # clamped until More
    assert "v-if=\"job.long\"" in template and ":label=\"clamped ? 'More' : 'Less'\"" in template


async def test_the_live_status_line_is_not_pale_cyan(user: User) -> None:
    """Issue 12 finding 14: the "Generating" line was text-info (pale cyan on white, below WCAG AA)."""
    await sign_in(user, then='/generator')
    services = app_services()
    services.demo.config.latency_s = 30
    user.find(marker='prompt').type('a slow lighthouse')
    user.find(marker='generate').click()
    await wait_for_cards(user)
    uid = await user_id(services, 'ada@example.com')
    (prompt,) = await services.library.recent_prompts(uid)
    await eventually(lambda: job_of(user, prompt.id).get('message'))
    (line,) = re.findall(r'<div v-if="job.running && job.message" class="([^"]*)">{{ job.message }}</div>',
                         JOB_CARD_JS.read_text())  # the element the browser draws the live line with
    assert 'text-info' not in line.split() and 'nanogen-live' in line.split()
    await services.generation.cancel(uid, prompt.id)
    await wait_finished(services, uid, int(prompt.id))


async def test_the_spend_line_is_not_smoothed(user: User) -> None:
    """Issue 12 finding 14: a smoothed spend line curved up across days with no spend (which must be zeros)."""
    from pages.analytics import over_time_chart

    await sign_in(user, then='/analytics')
    first = date(2026, 5, 1)
    days = [DayStat(day=first + timedelta(days=n), prompts=1 if n != 1 else 0, images=1 if n != 1 else 0,
                    spend=Decimal('0.0125') if n != 1 else Decimal(0), completed=1 if n != 1 else 0, failed=0)
            for n in range(3)]
    (spend,) = [s for s in over_time_chart(days)['series'] if s['name'] == 'Spend (USD)']
    assert spend['type'] == 'line' and spend['smooth'] is False
    assert spend['data'] == [0.0125, 0.0, 0.0125]  # the quiet day is a real zero
