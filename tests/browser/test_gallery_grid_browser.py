"""The gallery grid in real Chromium (issue 18): tiles are drawn by the browser from one list per page of tiles
(pages/_gallery_tiles.js). Typed markup stays text in the alt attribute, thumbnails load, the selection box ticks and
the server clears it, a favourite gets its star live, and tiles far off screen are left undrawn."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_journey import field, in_lightbox, sign_in, tiles

pytestmark = pytest.mark.browser
PROMPT = '<b>bold</b> "quoted" fox <img src=x onerror="window.__pwned=1"> \\'


def boxes_ticked(screen: Screen) -> list[str | None]:
    return [box.get_attribute('aria-checked') for box in screen.selenium.find_elements(By.CSS_SELECTOR, '.q-checkbox')]


def test_tiles_render_typed_text_tick_clear_and_star_live(screen: Screen) -> None:
    screen.selenium.set_window_size(1280, 900)
    sign_in(screen, '/generator')
    box = field(screen, 'Prompt')
    for n, text in enumerate((PROMPT, 'a plain second fox'), start=1):
        box.send_keys(Keys.CONTROL, 'a', Keys.BACKSPACE)
        box.send_keys(text, Keys.CONTROL, Keys.ENTER)
        screen.wait_for(lambda n=n: len(screen.find_all('Completed')) == n)

    screen.open('/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 2)
    images = screen.selenium.find_elements(By.CSS_SELECTOR, '[data-image-id] img')
    screen.should_load_image(images[1], timeout=5)  # the thumbnail, from /files/<id>/thumb
    assert images[1].get_attribute('alt') == PROMPT  # newest first: the typed prompt is the older one
    assert screen.selenium.execute_script('return window.__pwned') is None
    assert not screen.selenium.find_elements(By.CSS_SELECTOR, '[data-image-id] b')  # no markup made it in
    tile_style = tiles(screen)[0].find_element(By.XPATH, '..').get_attribute('style') or ''
    assert 'content-visibility: auto' in tile_style, tile_style  # the browser skips drawing tiles off screen

    assert boxes_ticked(screen) == ['false', 'false']
    screen.selenium.find_elements(By.CSS_SELECTOR, '.q-checkbox')[0].click()
    screen.should_contain('1 selected')  # the server heard the tick
    screen.selenium.find_elements(By.CSS_SELECTOR, '.q-checkbox')[1].click()
    screen.should_contain('2 selected')
    assert boxes_ticked(screen) == ['true', 'true']
    screen.click('Clear selection')
    screen.wait_for(lambda: boxes_ticked(screen) == ['false', 'false'])  # the server's clear reaches the boxes

    assert not screen.selenium.find_elements(By.XPATH, '//i[normalize-space()="star"]')
    tiles(screen)[0].click()
    in_lightbox(screen, 'Favourite')
    screen.should_contain('Added to favourites.')
    screen.wait_for(lambda: len(screen.selenium.find_elements(
        By.XPATH, '//div[@data-image-id]/parent::div//i[normalize-space()="star"]')) == 1)  # the tile's star, live
