"""The studio on a phone (390x844) in real Chromium: the lightbox shows its image and arrows, the history table fits.

Issue 12 finding 12."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_journey import field, shot, sign_in, tiles

pytestmark = pytest.mark.browser


def box(screen: Screen, css: str) -> dict:
    return screen.selenium.execute_script(
        'const r = document.querySelector(arguments[0]).getBoundingClientRect();'
        'return {left: r.left, right: r.right, width: r.width, height: r.height};', css)


def test_lightbox_works_on_a_phone(screen: Screen) -> None:
    """Issue 12 finding 12: on a phone the lightbox image box was 0 px wide, with no prev/next arrows."""
    screen.selenium.set_window_size(390, 844)
    sign_in(screen, '/generator')
    prompt = field(screen, 'Prompt')
    prompt.send_keys('a lighthouse on a phone', Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('Completed')))
    prompt.send_keys(Keys.CONTROL, 'a', Keys.BACKSPACE)
    prompt.send_keys('a comet on a phone', Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: len(screen.find_all('Completed')) == 2)

    screen.open('/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 2)
    tiles(screen)[0].click()
    screen.wait_for(lambda: bool(screen.selenium.find_elements(By.CSS_SELECTOR, '.q-dialog .lightbox-stage img')))
    screen.wait(0.5)  # the dialog's fade-in
    shot(screen, 'phone-lightbox')
    viewport = screen.selenium.execute_script('return window.innerWidth')
    stage = box(screen, '.q-dialog .lightbox-stage')
    assert stage['width'] > 0.8 * viewport and stage['height'] > 200
    image = box(screen, '.q-dialog .lightbox-stage .q-img')
    assert image['width'] > 0 and image['height'] > 0
    for arrow in ('.lightbox-prev', '.lightbox-next'):
        element = screen.selenium.find_element(By.CSS_SELECTOR, f'.q-dialog {arrow}')
        assert element.is_displayed(), arrow
        where = box(screen, f'.q-dialog {arrow}')
        assert where['left'] >= 0 and where['right'] <= viewport, arrow



def test_history_fits_a_phone(screen: Screen) -> None:
    """Issue 12 finding 12: on a phone the history table was cut off on the right."""
    screen.selenium.set_window_size(390, 844)
    sign_in(screen, '/generator')
    field(screen, 'Prompt').send_keys('a comet on a phone ' + 'with a long description ' * 4,
                                      Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('Completed')))
    screen.open('/history')
    screen.should_contain('a comet on a phone')
    shot(screen, 'phone-history')
    fits = screen.selenium.execute_script(
        'const t = document.querySelector(".q-table__container");'
        'const card = t.querySelector(".history-card");'
        'const r = (card || t.querySelector("tbody tr")).getBoundingClientRect();'
        'const cost = [...t.querySelectorAll("*")].find(e => e.children.length === 0'
        '  && e.textContent.includes("$0.0125"));'
        'return {pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,'
        ' tableRight: t.getBoundingClientRect().right, rowRight: r.right,'
        ' costRight: cost ? cost.getBoundingClientRect().right : null};')
    assert fits['pageWidth'] <= fits['viewport'], fits  # nothing cut off on the right of the page
    assert fits['tableRight'] <= fits['viewport'], fits
    assert fits['rowRight'] <= fits['viewport'], fits  # each prompt fits: no columns hidden off to the right
    assert fits['costRight'] is not None and 0 < fits['costRight'] <= fits['viewport'], fits  # its cost is in view
