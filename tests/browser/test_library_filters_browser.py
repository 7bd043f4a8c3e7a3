"""Tags, stars and group limits in real Chromium (issue 16): an image tagged and rated in the lightbox is the one the
gallery's tag and stars filters keep, and a group's allow-list set in the admin console refuses on the generator
with its message."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_boards_browser import choose, sign_in_as
from tests.browser.test_journey import field, tiles

pytestmark = pytest.mark.browser

DIALOG = '//div[contains(@class, "q-dialog")]'


def tile_ids(screen: Screen) -> list[str]:
    return sorted(t.get_attribute('data-image-id') or '' for t in tiles(screen))


def generate(screen: Screen, prompt: str, done: int) -> None:
    field(screen, 'Prompt').send_keys(Keys.CONTROL, 'a', Keys.BACKSPACE)
    field(screen, 'Prompt').send_keys(prompt, Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: len(screen.find_all('Completed')) >= done)


def test_tags_and_stars_filter_the_gallery_and_an_allow_list_refuses(screen: Screen,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_ADMIN_EMAILS', 'ada@example.com')
    screen.selenium.set_window_size(1400, 1000)
    sign_in_as(screen, 'Ada', '/generator')
    generate(screen, 'a fox in fresh snow', 1)
    generate(screen, 'a whale under the sea', 2)

    screen.open('/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 2)
    both = tile_ids(screen)
    chosen = tiles(screen)[0]
    chosen_id = chosen.get_attribute('data-image-id') or ''
    chosen.click()
    screen.wait_for(lambda: bool(screen.selenium.find_elements(By.XPATH, f'{DIALOG}//div[contains(@class, "q-rating")]')))
    stars = screen.selenium.find_elements(By.XPATH, f'{DIALOG}//div[contains(@class, "q-rating")]//i')
    stars[3].click()  # four stars
    screen.should_contain('Rated 4 stars.')
    tags = screen.selenium.find_element(By.XPATH, f'{DIALOG}//input[@aria-label="Tags"]')
    tags.send_keys('winter', Keys.ENTER)
    screen.should_contain('Tags saved: winter')
    screen.selenium.find_element(By.XPATH, f'{DIALOG}//button[.//i[normalize-space()="close"]]').click()
    screen.wait_for(lambda: not screen.selenium.find_elements(By.XPATH, DIALOG))

    screen.open('/gallery')  # a fresh page: the filters' tag suggestions now include "winter"
    screen.wait_for(lambda: tile_ids(screen) == both)
    choose(screen, 'Stars', '★★★★ or more')
    screen.wait_for(lambda: tile_ids(screen) == [chosen_id])
    choose(screen, 'Stars', 'Any stars')
    screen.wait_for(lambda: tile_ids(screen) == both)
    choose(screen, 'Tags', 'winter')
    screen.wait_for(lambda: tile_ids(screen) == [chosen_id])

    screen.open('/admin')
    field(screen, 'New group').send_keys('Marketing')
    screen.click('Create group')
    screen.should_contain('Group created.')
    choose(screen, 'Group', 'Marketing')
    field(screen, 'Email').send_keys('ada@example.com')
    screen.click('Add member')
    screen.should_contain('Member added.')
    screen.open('/admin')
    screen.selenium.find_element(By.XPATH, '//div[contains(@class, "q-expansion-item")]'
                                           '//div[normalize-space()="Marketing"]').click()
    choose(screen, 'Sizes (none: any)', '512 px (Nano Banana)')
    field(screen, 'Sizes (none: any)').send_keys(Keys.ESCAPE)
    screen.click('Save limits')
    screen.should_contain('Limits saved.')

    screen.open('/generator')
    field(screen, 'Prompt').send_keys('a poster too large for marketing', Keys.CONTROL, Keys.ENTER)
    screen.should_contain('Your group does not allow nanobanana at 1K: choose another model or size, or ask an admin.')
