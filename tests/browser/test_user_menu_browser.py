"""The avatar's menu in real Chromium: built on its first open (issue 18), it opens with its items and signs out."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from tests.browser.test_boards_browser import sign_in_as

pytestmark = pytest.mark.browser


def test_the_avatar_menu_opens_with_its_items_and_signs_out(screen: Screen) -> None:
    sign_in_as(screen, 'Ada', '/history')
    assert not screen.selenium.find_elements(By.XPATH, '//div[contains(@class, "q-menu")]')  # nothing built yet
    screen.selenium.find_element(By.XPATH, '//header//div[contains(@class, "q-avatar")]').click()
    screen.wait_for(lambda: bool(screen.selenium.find_elements(
        By.XPATH, '//div[contains(@class, "q-menu")]//div[contains(@class, "q-item")][normalize-space()="Sign out"]')))
    # .text is what is visible: while the menu fades in it can still be '' (seen once in CI), so wait for it.
    screen.wait_for(lambda: 'ada@example.com' in screen.selenium.find_element(
        By.XPATH, '//div[contains(@class, "q-menu")]').text)
    screen.selenium.find_element(
        By.XPATH, '//div[contains(@class, "q-menu")]//div[contains(@class, "q-item")][normalize-space()="Sign out"]'
    ).click()
    screen.should_contain("Your team's image studio")
