"""Boards in real Chromium (issue 16): make a board, add an image from the gallery (by multi-select and by dragging a
tile onto a board chip), share it with a group; a member sees it, an outsider does not."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.test_journey import field, tiles

pytestmark = pytest.mark.browser


def sign_in_as(screen: Screen, name: str, then: str) -> None:
    screen.open('/auth/logout')
    screen.open(f'/login?redirect_to={then}')
    field(screen, 'Name').send_keys(name)
    field(screen, 'Email').send_keys(f'{name.lower()}@example.com', Keys.ENTER)
    screen.wait_for(lambda: screen.current_path == then)


def choose(screen: Screen, label: str, option: str) -> None:
    """Open the Quasar select labelled `label` and click its option `option`."""
    field(screen, label).click()
    screen.wait_for(lambda: bool(screen.selenium.find_elements(
        By.XPATH, f'//div[contains(@class, "q-menu")]//div[contains(@class, "q-item")][normalize-space()="{option}"]')))
    screen.selenium.find_element(
        By.XPATH, f'//div[contains(@class, "q-menu")]//div[contains(@class, "q-item")][normalize-space()="{option}"]'
    ).click()


# Selenium's drag_and_drop moves the mouse, which Chromium does not turn into HTML5 drag events; the page's own
# handlers (pages/_gallery_tile.py, _gallery_boards.py) get real DragEvents sharing one DataTransfer, as in a drag.
DRAG_TILE_ONTO_BOARD_JS = """
const [tile, name] = arguments;
const chip = [...document.querySelectorAll('.board-target')].find(c => c.textContent.includes(name));
const data = new DataTransfer();
const fire = (target, type) => target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true,
                                                                        dataTransfer: data}));
fire(tile, 'dragstart');
const accepted = !fire(chip, 'dragover');  // prevented: the chip takes the drop
fire(chip, 'drop');
return accepted;
"""


def test_a_board_shared_with_a_group_is_seen_by_a_member_and_not_by_an_outsider(
        screen: Screen, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_ADMIN_EMAILS', 'ada@example.com')
    screen.selenium.set_window_size(1400, 1000)
    for person in ('Bob', 'Eve'):  # they exist once they have signed in
        sign_in_as(screen, person, '/dashboard')
    sign_in_as(screen, 'Ada', '/generator')
    field(screen, 'Prompt').send_keys('a board-worthy lighthouse', Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('Completed')))

    screen.open('/boards')
    field(screen, 'New board name').send_keys('Zine')
    screen.click('Create board')
    screen.wait_for(lambda: screen.current_path.startswith('/boards/'))
    board_path = screen.current_path
    screen.open('/boards')
    field(screen, 'New board name').send_keys('Zoo')
    screen.click('Create board')
    screen.wait_for(lambda: screen.current_path.startswith('/boards/') and screen.current_path != board_path)
    zoo_path = screen.current_path

    screen.open('/gallery')
    screen.wait_for(lambda: len(tiles(screen)) == 1)
    screen.selenium.find_element(By.CSS_SELECTOR, '.q-checkbox').click()
    screen.should_contain('1 selected')
    screen.click('Add to board')
    screen.should_contain('Added 1 image to Zine.')
    screen.should_contain('Drag images onto a board:')
    assert screen.selenium.execute_script(DRAG_TILE_ONTO_BOARD_JS, tiles(screen)[0], 'Zoo')
    screen.should_contain('Added 1 image to Zoo.')
    screen.open(zoo_path)
    screen.wait_for(lambda: len(tiles(screen)) == 1)

    screen.open('/admin')
    field(screen, 'New group').send_keys('Design')
    screen.click('Create group')
    screen.should_contain('Group created.')
    for email in ('ada@example.com', 'bob@example.com'):
        choose(screen, 'Group', 'Design')
        email_box = field(screen, 'Email')
        email_box.send_keys(Keys.CONTROL, 'a', Keys.BACKSPACE)
        email_box.send_keys(email)
        screen.click('Add member')
        screen.should_contain('Member added.')

    screen.open(board_path)
    screen.click('Share')
    choose(screen, 'Shared with', 'Design')
    screen.click('Save sharing')
    screen.should_contain('Sharing saved.')

    sign_in_as(screen, 'Bob', board_path)
    screen.should_contain('Zine')
    screen.should_contain('Shared with you (view only) · shared with Design')
    screen.wait_for(lambda: len(tiles(screen)) == 1)

    sign_in_as(screen, 'Eve', board_path)
    screen.should_contain('That board does not exist.')
    screen.should_not_contain('Zine')
    assert tiles(screen) == []
