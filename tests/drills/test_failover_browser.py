"""Drill (issue 14 item 10): kill -9 of the web replica a real browser is connected to, through HAProxy, with
generations in flight. The browser is moved to the surviving replica, keeps its session and sees them finish.

The topology is the reference deployment's, as processes: HAProxy (sticky cookie, health checks, redispatch) in front
of two replicas on one PostgreSQL database, moto's S3 server for the images and the contract fake as the provider
(callbacks to NANOGEN_PUBLIC_URL, the balancer). The generations are run by the survivor: a generation whose own
replica dies is the engine's drill (issue 14 items 1 and 4), not this one's.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlmodel import col, select

from nanogen.accounts.tokens import TokenService
from nanogen.db import Database
from nanogen.models import Prompt, Status, User
from tests.drills.cluster import Cluster, haproxy_binary, running, s3_settings
from tests.support.s3 import moto_s3_server

GENERATIONS = 3
pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    os.environ.setdefault('SE_OFFLINE', 'true')  # Debian's chromium and chromedriver; never a download
    options = webdriver.ChromeOptions()
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1280,900'):
        options.add_argument(arg)
    if os.path.exists('/usr/bin/chromium'):
        options.binary_location = '/usr/bin/chromium'
    service = Service('/usr/bin/chromedriver') if os.path.exists('/usr/bin/chromedriver') else Service()
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until(what: str, check: Callable[[], bool], timeout: float, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # a page mid-reload: ask again
            pass
        time.sleep(0.2)
    raise AssertionError(f'gave up waiting for {what}\n{logs()}')


def sign_in_through(browser: WebDriver, balancer_url: str, logs: Callable[[], str]) -> int:
    """Sign Ada in through the balancer, on /history; the index of the web replica the balancer pinned her to."""
    browser.get(f'{balancer_url}/login?redirect_to=/history')
    # NiceGUI mounts the form after the page's load event (later still on busy cores): wait for it.
    wait_until('the sign-in form', lambda: bool(browser.find_elements(By.CSS_SELECTOR, '[aria-label="Name"]')), 30, logs)
    browser.find_element(By.CSS_SELECTOR, '[aria-label="Name"]').send_keys('Ada')
    browser.find_element(By.CSS_SELECTOR, '[aria-label="Email"]').send_keys('ada@example.com', Keys.ENTER)
    wait_until('the history page', lambda: browser.current_url.endswith('/history'), 30, logs)
    pinned = browser.get_cookie('SERVERID')
    assert pinned is not None, 'the balancer pins the browser to a replica'
    return int(pinned['value'].removeprefix('r'))


def badges(driver: WebDriver, label: str) -> int:
    return len(driver.find_elements(By.XPATH, f'//*[contains(@class, "q-badge") and normalize-space()="{label}"]'))


def rows(db: Database) -> list[Prompt]:
    with db.session() as s:
        return list(s.exec(select(Prompt).order_by(col(Prompt.id))))


async def token_for(db: Database, email: str) -> str:
    with db.session() as s:
        user = s.exec(select(User).where(User.email == email)).one()
    assert user.id is not None
    return (await TokenService(db).create(user.id, 'drill')).secret


def test_kill_9_of_the_browsers_replica_moves_it_to_the_survivor_signed_in_and_live(
        fake, postgres_url: str, tmp_path: Path, browser: WebDriver) -> None:
    haproxy_binary()
    provider, provider_url = fake
    provider.config.latency_s = 6.0  # still in flight when the replica dies
    with moto_s3_server() as s3, running(Cluster(tmp_path, postgres_url, settings={
            'NANOBANANA_API_KEY': 'test-key-123456', 'NANOBANANA_BASE_URL': provider_url,
            'NANOGEN_POLL_INITIAL': 0.5, 'NANOGEN_POLL_MAX': 1.0, **s3_settings(s3, 'failover-drill')})) as cluster:
        assert cluster.balancer is not None
        db = Database(postgres_url)

        def logs() -> str:
            balancer = cluster.balancer.log_path.read_text(errors='replace')[-1500:] if cluster.balancer else ''
            return '\n'.join(f'--- {r.log_path}\n{r.log_tail(1500)}' for r in cluster.replicas) + f'\n--- haproxy\n{balancer}'

        doomed_index = sign_in_through(browser, cluster.balancer.url, logs)
        doomed, survivor = cluster.web[doomed_index], cluster.web[1 - doomed_index]

        token = asyncio.run(token_for(db, 'ada@example.com'))  # the same user, through the survivor's API
        with httpx.Client(base_url=survivor.url, headers={'Authorization': f'Bearer {token}'}, timeout=30) as api:
            for i in range(GENERATIONS):
                r = api.post('/api/v1/images/generate', json={'prompt': f'a lighthouse in a storm, {i}', 'size': 512})
                assert r.status_code == 202, r.text
        wait_until('the page to show them running', lambda: badges(browser, 'Processing') == GENERATIONS, 30, logs)

        doomed.kill9()
        assert all(r.status == Status.PROCESSING.value for r in rows(db)), 'killed with all of them in flight'

        wait_until('all completed on screen', lambda: badges(browser, 'Completed') == GENERATIONS, 60, logs)
        moved = browser.get_cookie('SERVERID')
        assert moved is not None and moved['value'] == f'r{1 - doomed_index}', moved  # now on the survivor
        assert browser.current_url.endswith('/history'), 'still signed in: no detour through /login'
        assert [r.status for r in rows(db)] == [Status.COMPLETED.value] * GENERATIONS
        assert provider.submissions == GENERATIONS
        db.dispose()
