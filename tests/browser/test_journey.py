"""The studio's main journey in real Chromium: sign in, generate two at once, find, favourite, share, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[1] / 'screenshots'  # gitignored; CI keeps them as artifacts


def shot(screen: Screen, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    screen.selenium.get_screenshot_as_file(str(SHOTS / f'journey-{name}.png'))


def field(screen: Screen, label: str) -> WebElement:
    return screen.selenium.find_element(By.CSS_SELECTOR, f'[aria-label="{label}"]')


def tiles(screen: Screen) -> list[WebElement]:
    with screen.implicitly_wait(0):
        return screen.selenium.find_elements(By.CSS_SELECTOR, '[data-image-id]')


def in_lightbox(screen: Screen, label: str) -> None:
    """Click a lightbox button by its label (the page behind has look-alikes, e.g. the Favourites switch)."""
    screen.selenium.find_element(
        By.XPATH, f'//div[contains(@class, "q-dialog")]//button[.//span[normalize-space()="{label}"]]').click()


def sign_in(screen: Screen, then: str) -> None:
    screen.open(f'/login?redirect_to={then}')
    field(screen, 'Name').send_keys('Ada')
    field(screen, 'Email').send_keys('ada@example.com', Keys.ENTER)
    screen.wait_for(lambda: screen.current_path == then)


def test_generate_find_favourite_share_and_delete(screen: Screen, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_DEMO_LATENCY', '2.0')  # long enough that both jobs are visibly running together
    screen.selenium.set_window_size(1280, 900)
    sign_in(screen, '/generator')

    prompt = field(screen, 'Prompt')
    prompt.send_keys('a lighthouse at dusk, journey one', Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('journey one')))  # its new card is the feedback
    prompt.send_keys(Keys.CONTROL, 'a', Keys.BACKSPACE)
    prompt.send_keys('a comet over the sea, journey two', Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: len(screen.find_all('Processing')) == 2)  # both running at the same time
    shot(screen, '1-two-jobs-running')
    screen.wait_for(lambda: len(screen.find_all('Completed')) == 2)
    shot(screen, '2-two-jobs-done')

    screen.open('/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 2)
    field(screen, 'Search prompts').send_keys('journey two')
    screen.wait_for(lambda: len(tiles(screen)) == 1)
    shot(screen, '3-gallery-search')

    tiles(screen)[0].click()
    screen.should_contain('a comet over the sea, journey two')
    screen.should_contain('$0.0125')
    in_lightbox(screen, 'Favourite')
    screen.should_contain('Added to favourites.')
    in_lightbox(screen, 'Create link')
    screen.should_contain('Share link created')
    share_input = screen.selenium.find_element(By.CSS_SELECTOR, '.q-dialog input[data-share-url]')
    url = share_input.get_attribute('value') or ''
    assert '/s/' in url, url
    shot(screen, '4-lightbox-shared')

    screen.selenium.delete_all_cookies()  # a visitor who never signed in
    screen.open(url[url.index('/s/'):])
    screen.should_contain('a comet over the sea, journey two')
    screen.should_load_image(screen.find_by_css('.q-img img'), timeout=5)
    screen.should_not_contain('Sign in to nanogen')
    shot(screen, '5-share-signed-out')

    sign_in(screen, '/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 2)
    tiles(screen)[0].click()  # newest first: journey two
    screen.should_contain('a comet over the sea, journey two')
    in_lightbox(screen, 'Delete')
    screen.should_contain('Image deleted.')
    screen.wait_for(lambda: len(tiles(screen)) == 1)
    shot(screen, '6-deleted-with-undo')
