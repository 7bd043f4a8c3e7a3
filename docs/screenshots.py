"""Makes the README screenshots: runs the app with the demo provider, generates a few images, snaps the pages.

    python docs/screenshots.py            # writes docs/screenshots/generator.png and gallery.png

Needs Debian's chromium and chromium-driver (/usr/bin) and the test extras (selenium). Nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'docs' / 'screenshots'
PROMPTS = [
    ('A lighthouse on a cliff at dusk, oil painting, warm light', '1024px'),
    ('A watercolor fox reading a newspaper in a cosy cafe', '768px'),
    ('Isometric city block made of candy, soft pastel colours', '512px'),
    ('A koi pond seen from above, autumn leaves, ukiyo-e print', '1024px'),
    ('Retro travel poster of a mountain railway, bold flat shapes', '768px'),
    ('A tiny robot gardener watering neon mushrooms at night', '512px'),
]
log = logging.getLogger('screenshots')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f'the app did not answer at {url}')


def browser() -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = '/usr/bin/chromium'
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1400,900',
                '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage'):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)


def wait_until(check, timeout: float = 30, what: str = 'the page') -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f'timed out waiting for {what}')


def loaded_images(driver: WebDriver, fragment: str) -> int:
    return int(driver.execute_script(
        'return [...document.images].filter(i => i.src.includes(arguments[0]) && i.complete && i.naturalWidth > 0)'
        '.length', fragment))


def sign_in(driver: WebDriver, base: str, secret_key: str) -> None:
    # A local sign-in ticket, signed the way the login form signs it: no typing into the form needed.
    sys.path.insert(0, str(ROOT))
    from nanogen.accounts.guard import LocalSignIn
    ticket = LocalSignIn(secret_key).ticket('Ada Lovelace', 'ada@example.com')
    driver.get(f'{base}/auth/local?t={quote(ticket)}&redirect_to=/generator')
    wait_until(lambda: driver.find_elements(By.TAG_NAME, 'textarea'), what='the generator')
    time.sleep(1.5)  # let the websocket connect, or the first keystrokes never reach the server


def generate(driver: WebDriver) -> None:
    for text, size in PROMPTS:
        area = driver.find_element(By.TAG_NAME, 'textarea')
        area.click()
        area.send_keys(Keys.CONTROL, 'a')
        area.send_keys(Keys.DELETE)
        area.send_keys(text)
        time.sleep(0.3)
        driver.find_element(By.XPATH, f'//button[.//span[normalize-space()="{size}"]]').click()
        # The last "Generate" button is the form's (the first is the nav entry).
        driver.find_element(By.XPATH, '(//button[.//span[normalize-space()="Generate"]])[last()]').click()
        time.sleep(0.6)
    wait_until(lambda: loaded_images(driver, '/files/') >= len(PROMPTS), timeout=60, what='the generated images')
    # The last prompt stays in the box, so the form in the picture shows what produced the newest card.
    time.sleep(1.0)
    hide_notifications(driver)


def hide_notifications(driver: WebDriver) -> None:
    driver.execute_script("document.querySelectorAll('.q-notifications__list > *').forEach(n => n.remove())")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f'http://127.0.0.1:{port}'
    secret_key = secrets.token_urlsafe(48)
    with tempfile.TemporaryDirectory(prefix='nanogen-shots-') as data:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('NANOGEN_', 'NANOBANANA_', 'R2_', 'GOOGLE_'))}
        env.update(NANOGEN_DATA_DIR=data, NANOGEN_HOST='127.0.0.1', PORT=str(port), NANOGEN_SECRET_KEY=secret_key,
                   NANOGEN_DEMO_LATENCY='1.5', NANOGEN_POLL_INITIAL='0.2', NANOGEN_POLL_MAX='0.5',
                   NANOGEN_LOG_LEVEL='WARNING')
        app = subprocess.Popen([sys.executable, 'app.py'], cwd=ROOT, env=env)
        driver = None
        try:
            wait_for_http(f'{base}/healthz')
            driver = browser()
            sign_in(driver, base, secret_key)
            generate(driver)
            driver.execute_script('window.scrollTo(0, 0)')
            driver.save_screenshot(str(OUT / 'generator.png'))
            log.info('wrote %s', OUT / 'generator.png')
            driver.get(f'{base}/gallery')
            wait_until(lambda: loaded_images(driver, '/files/') >= len(PROMPTS), what='the gallery')
            time.sleep(1.0)
            driver.save_screenshot(str(OUT / 'gallery.png'))
            log.info('wrote %s', OUT / 'gallery.png')
        except Exception:
            if driver is not None:  # what the browser saw, to tell why it waited in vain
                driver.save_screenshot(str(Path(data).parent / 'nanogen-screenshots-failure.png'))
            raise
        finally:
            if driver is not None:
                driver.quit()
            app.terminate()
            try:
                app.wait(timeout=15)
            except subprocess.TimeoutExpired:
                app.kill()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
