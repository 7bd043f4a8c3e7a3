"""The job card in real Chromium: one Vue component (pages/_job_card.js) drawn from its `job` prop, so what the
`user` tests cannot see is checked here: the clamp's More/Less, the ticking clock, the links and the buttons."""

from __future__ import annotations

import re

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from tests.browser.test_journey import field, sign_in

pytestmark = pytest.mark.browser
LONG = 'a lighthouse on a cliff at dusk, ' * 10  # over the card's 240 characters: clamped, with More


def card(screen: Screen) -> WebElement:
    found, *_ = screen.selenium.find_elements(By.CSS_SELECTOR, '[data-prompt-id]')
    return found


def control(screen: Screen, label: str) -> WebElement:
    """The newest card's button or link by its label (q-btn with a href is an <a>)."""
    return card(screen).find_element(By.XPATH, f'.//*[(self::button or self::a) and .//span[normalize-space()="{label}"]]')


def clock(screen: Screen) -> str:
    return card(screen).find_element(By.CSS_SELECTOR, '.nanogen-clock').text


def test_a_finished_card_clamps_links_and_edits(screen: Screen) -> None:
    screen.selenium.set_window_size(1280, 900)
    sign_in(screen, '/generator')
    box = field(screen, 'Prompt')
    for start in range(0, len(LONG), 40):  # in pieces: one long send_keys outlasted the driver's 4 s on busy cores
        box.send_keys(LONG[start:start + 40])
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('Completed')))
    screen.should_contain('Finished in')
    assert re.fullmatch(r'\d+:\d\d', clock(screen)), clock(screen)
    text = card(screen).find_element(By.CSS_SELECTOR, '.whitespace-pre-wrap')
    assert 'line-clamp-3' in (text.get_attribute('class') or '')
    control(screen, 'More').click()
    screen.wait_for(lambda: 'line-clamp-3' not in (text.get_attribute('class') or ''))
    control(screen, 'Less').click()
    screen.wait_for(lambda: 'line-clamp-3' in (text.get_attribute('class') or ''))

    image = card(screen).find_element(By.CSS_SELECTOR, '[data-image-id] img')
    assert image.get_attribute('alt') == LONG.strip()
    screen.should_load_image(image, timeout=5)
    image_id = card(screen).find_element(By.CSS_SELECTOR, '[data-image-id]').get_attribute('data-image-id')
    download = control(screen, 'Download')
    assert download.get_attribute('href').endswith(f'/files/{image_id}/image?download=true')
    assert download.get_attribute('download') is not None
    disposition = screen.selenium.execute_async_script(
        'const done = arguments[arguments.length - 1];'
        'fetch(arguments[0]).then(r => done(r.headers.get("content-disposition")));', download.get_attribute('href'))
    assert disposition and disposition.startswith('attachment'), disposition

    control(screen, 'Edit').click()
    screen.should_contain(f'Edit image #{image_id} by instruction')
    screen.selenium.find_element(By.TAG_NAME, 'body').send_keys(Keys.ESCAPE)
    screen.wait(0.5)
    link = control(screen, 'Open in gallery')
    assert link.get_attribute('href').endswith(f'/gallery?image={image_id}')
    # A click through JavaScript: WebDriver's own click waits for the next page, over its 4 s on busy cores.
    screen.selenium.execute_script('arguments[0].click()', link)
    screen.wait_for(lambda: screen.current_path == f'/gallery?image={image_id}')
    screen.should_contain('Copy prompt')  # the lightbox of that image


def test_a_running_card_ticks_cancels_and_retries(screen: Screen, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_DEMO_LATENCY', '30')
    screen.selenium.set_window_size(1280, 900)
    sign_in(screen, '/generator')
    field(screen, 'Prompt').send_keys('a slow comet', Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('Processing')))
    first = clock(screen)
    screen.wait_for(lambda: clock(screen) != first)  # counted by the browser
    control(screen, 'Cancel').click()
    screen.should_contain('Generation cancelled.')
    screen.wait_for(lambda: bool(screen.find_all('Cancelled')))
    stopped = clock(screen)
    screen.wait(1.5)
    assert clock(screen) == stopped  # an ended card's clock stands still
    control(screen, 'Retry').click()
    screen.should_contain('Queued again with the same settings.')
    screen.wait_for(lambda: len(screen.selenium.find_elements(By.CSS_SELECTOR, '[data-prompt-id]')) == 2)


def test_a_running_generation_on_the_dashboard_ticks_shows_its_prompt_as_text_and_cancels(
        screen: Screen, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_DEMO_LATENCY', '30')
    screen.selenium.set_window_size(1280, 900)
    sign_in(screen, '/generator')
    typed = '<b>bold</b> "comet" \\ on the dashboard'
    field(screen, 'Prompt').send_keys(typed, Keys.CONTROL, Keys.ENTER)
    screen.wait_for(lambda: bool(screen.find_all('Processing')))
    screen.open('/dashboard')  # one element per running row (pages/_in_flight_row.js), drawn by the browser
    screen.wait_for(lambda: bool(screen.selenium.find_elements(By.CSS_SELECTOR, '[data-prompt-id]')))
    row = card(screen)
    assert typed in row.text and not row.find_elements(By.TAG_NAME, 'b')  # the markup is text, not markup
    first = clock(screen)
    screen.wait_for(lambda: clock(screen) != first)  # counted by the browser
    row.find_element(By.CSS_SELECTOR, 'button[aria-label="Cancel"]').click()
    screen.should_contain('Generation cancelled.')
    screen.should_contain('Nothing is running right now.')
