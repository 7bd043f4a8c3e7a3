"""The header's page links in real Chromium: one Vue component (pages/_nav_row.js) whose items are links."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from tests.browser.test_journey import sign_in

pytestmark = pytest.mark.browser


def test_the_header_links_go_to_their_pages_and_mark_the_current_one(screen: Screen) -> None:
    screen.selenium.set_window_size(1400, 900)  # wide: the row shows (phones get the drawer)
    sign_in(screen, '/history')
    header = screen.selenium.find_element(By.CSS_SELECTOR, '.q-header')
    # A link's text is its icon's ligature name, then its label.
    links = {link.text.strip().split('\n')[-1]: link for link in header.find_elements(By.CSS_SELECTOR, 'a.q-btn')}
    assert {'Dashboard', 'Generate', 'Gallery', 'History'} <= set(links)
    assert 'bg-white/20' in (links['History'].get_attribute('class') or '')
    screen.selenium.execute_script('arguments[0].click()', links['Gallery'])
    screen.wait_for(lambda: screen.current_path == '/gallery')
    header = screen.selenium.find_element(By.CSS_SELECTOR, '.q-header')
    current = [a.text.strip().split('\n')[-1] for a in header.find_elements(By.CSS_SELECTOR, 'a.q-btn.bg-white\\/20')]
    assert current == ['Gallery']
