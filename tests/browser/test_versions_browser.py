"""In real Chromium: edit an image by instruction, compare the new version with its parent, download it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from nicegui.testing import Screen
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_journey import field, in_lightbox, shot, sign_in, tiles

pytestmark = pytest.mark.browser
# The README's picture is refreshed only on request (NANOGEN_UPDATE_SCREENSHOTS=1): a CI run leaves tracked files alone.
README_SHOT = (Path(__file__).resolve().parents[2] / 'docs' / 'screenshots' / 'versions.png'
               if os.environ.get('NANOGEN_UPDATE_SCREENSHOTS') else
               Path(__file__).resolve().parents[1] / 'screenshots' / 'versions.png')


def test_edit_compare_with_the_parent_and_download_the_new_version(screen: Screen, tmp_path: Path) -> None:
    downloads = tmp_path / 'downloads'
    downloads.mkdir()
    screen.selenium.execute_cdp_cmd('Page.setDownloadBehavior', {'behavior': 'allow',
                                                                 'downloadPath': str(downloads)})
    screen.selenium.set_window_size(1280, 900)
    sign_in(screen, '/generator')
    field(screen, 'Prompt').send_keys('a red mug on a wooden table', Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('Completed')))

    screen.open('/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 1)
    tiles(screen)[0].click()
    screen.should_contain('a red mug on a wooden table')
    field(screen, 'Edit by instruction').send_keys('put a logo on the mug')
    in_lightbox(screen, 'Edit')
    screen.should_contain('put a logo on the mug')  # the new version opens in the lightbox by itself
    screen.wait_for(lambda: screen.selenium.find_element(
        By.CSS_SELECTOR, '.q-dialog .q-badge').text == '2')  # two versions in the strip
    shot(screen, 'versions-strip')
    README_SHOT.parent.mkdir(parents=True, exist_ok=True)
    screen.selenium.save_screenshot(str(README_SHOT))  # the README shows the lightbox with its version strip

    in_lightbox(screen, 'Compare with parent')
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, '.q-dialog .q-tab-panel .q-img')) >= 2)
    for img in screen.selenium.find_elements(By.CSS_SELECTOR, '.q-dialog .q-tab-panel .q-img img')[:2]:
        screen.should_load_image(img, timeout=5)
    shot(screen, 'versions-compare')
    screen.selenium.find_element(By.XPATH, '//div[contains(@class, "q-dialog")]//div[normalize-space()="Slider"]'
                                 ).click()
    screen.wait_for(lambda: bool(screen.selenium.find_elements(By.CSS_SELECTOR, '.q-dialog .q-slider')))
    screen.selenium.find_element(By.XPATH, '(//div[contains(@class, "q-dialog")])[last()]'  # the compare view's
                                           '//button[.//i[normalize-space()="close"]]').click()  # close button
    screen.wait_for(lambda: not screen.selenium.find_elements(By.CSS_SELECTOR, '.q-dialog .q-slider'))

    in_lightbox(screen, 'Download')
    screen.wait_for(lambda: any(p.suffix == '.png' for p in downloads.iterdir()))
    [saved] = [p for p in downloads.iterdir() if p.suffix == '.png']
    assert saved.name == 'nanogen-2-1.png'  # the new version (prompt 2, the edit), not the original (prompt 1)
    assert Image.open(saved).size == (1024, 1024)
