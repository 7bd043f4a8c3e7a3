"""Issue 11 finding 1 in real Chromium: a prompt written as prop syntax runs no script, and the CSP is sent."""

from __future__ import annotations

import httpx
import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_journey import field, in_lightbox, sign_in, tiles

pytestmark = pytest.mark.browser
# The review's payload: a trailing backslash escapes the closing quote, so `:x` became a prop the browser evaluates.
BACKSLASH = "fox :x='window.__pwned=1' \\"
QUOTE = 'fox" :y="window.__pwned=2'  # a plain quote ends alt="..." where it was not replaced (the job card)


def pwned(screen: Screen) -> object:
    return screen.selenium.execute_script('return window.__pwned')


def csp_violations(screen: Screen) -> list[str]:
    return [log['message'] for log in screen.selenium.get_log('browser') if 'Content Security Policy' in log['message']]


def test_prompts_with_prop_syntax_run_no_script_on_the_card_or_the_share_page(screen: Screen) -> None:
    """Issue 11 finding 1: the marker the payloads would set stays unset; pages work under the CSP."""
    screen.selenium.set_window_size(1280, 900)
    sign_in(screen, '/generator')
    for n, prompt in enumerate((BACKSLASH, QUOTE), start=1):
        box = field(screen, 'Prompt')
        box.send_keys(Keys.CONTROL, 'a', Keys.BACKSPACE)
        box.send_keys(prompt, Keys.CONTROL, Keys.ENTER)
        screen.wait_for(lambda n=n: len(screen.find_all('Completed')) == n)
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, '[data-image-id] img')) == 2)
    assert pwned(screen) is None  # the owner's job cards
    alts = {img.get_attribute('alt') for img in screen.selenium.find_elements(By.CSS_SELECTOR, '.q-img img')}
    assert {BACKSLASH, QUOTE} <= alts, alts

    screen.open('/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 2)
    tiles(screen)[1].click()  # newest first: the backslash prompt is the older one
    screen.should_contain('Copy prompt')
    assert pwned(screen) is None  # the lightbox
    in_lightbox(screen, 'Create link')
    screen.should_contain('Share link created')
    url = screen.selenium.find_element(By.CSS_SELECTOR, '.q-dialog input[data-share-url]').get_attribute('value')
    assert url and '/s/' in url, url
    path = url[url.index('/s/'):]

    screen.selenium.delete_all_cookies()  # an anonymous visitor of the link
    screen.open(path)
    screen.should_load_image(screen.find_by_css('.q-img img'), timeout=5)  # img-src allows our own images
    assert pwned(screen) is None
    assert screen.find_by_css('.q-img img').get_attribute('alt') == BACKSLASH
    assert not csp_violations(screen), csp_violations(screen)  # NiceGUI itself runs under the policy

    response = httpx.get(screen.url + path)
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers['content-security-policy']
    assert response.headers['x-frame-options'] == 'DENY'


def test_swagger_ui_renders_from_local_assets_under_its_csp(screen: Screen) -> None:
    """Issue 11 finding 1: /api/docs works with no CDN and its stricter policy (no 'unsafe-eval')."""
    sign_in(screen, '/dashboard')
    screen.open('/api/docs')
    screen.wait_for(lambda: 'nanogen API' in screen.selenium.find_element(By.CSS_SELECTOR, '.swagger-ui .title').text)
    screen.wait_for(lambda: screen.selenium.find_elements(By.CSS_SELECTOR, '.opblock'))  # the operations listed
    assert not csp_violations(screen), csp_violations(screen)
