"""Issue 18: a closed tab of any main page leaves no cyclic garbage behind. The real app (bench.lag_app: app.py plus
its debug routes) serves each page to a signed-in user who never connects a socket, as the capacity bench's browsing
user does; its clients are then deleted, and one collection counts what only the collector could free. With the
survivor freeze such garbage waits minutes for a whole scan: at 200 tabs it was ~380,000 objects and 57 MB of RSS.
NiceGUI's own HTTP middleware leaves a few cycles per request (Starlette's BaseHTTPMiddleware), and a generation
running meanwhile its own (tenacity's retry state); no element, client or page object may be among them, and
no deleted tab may stay held (pinned, its page waits for whatever holds it)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from bench.capacity import SECRET
from nanogen.accounts.guard import LocalSignIn
from tests.drills.app_process import AppProcess

PAGES = ['/dashboard', '/generator', '/gallery', '/history']


@pytest.fixture(scope='module')
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    process = AppProcess(tmp_path_factory.mktemp('free') / 'data', command=('-m', 'bench.lag_app'),
                         NANOGEN_SECRET_KEY=SECRET, NANOGEN_LOG_LEVEL='WARNING',
                         NANOGEN_API_RATE_PER_MINUTE=10_000)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def signed_in(app: AppProcess) -> httpx.Client:
    http = httpx.Client(base_url=app.url, timeout=60)
    ticket = LocalSignIn(SECRET, None).ticket('Ada "quoted"', 'ada@example.com')  # type: ignore[arg-type]
    assert http.get('/auth/local', params={'t': ticket, 'redirect_to': '/dashboard'}).status_code == 303
    return http


def page_garbage(http: httpx.Client) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """What the collection after deleting the never-connected tabs found (page-level types only), and what of the
    deleted tabs something still holds: their clients (by path) and page objects (by type)."""
    answer = http.get('/debug/garbage', params={'prune': True, 'limit': 1000}).json()
    assert answer['open_tabs'] == 0, answer['open_tabs']  # so every page object alive is a closed tab's
    return ([(name, n) for name, n in answer['top'] if name.startswith(('nicegui.', 'pages.'))],
            {**answer['pinned_deleted_clients'], **answer['page_objects']})


@pytest.fixture(scope='module')
def ada(app: AppProcess) -> Iterator[httpx.Client]:
    """Signed in, with one completed generation: its image is on every page (the dashboard's recent images, the
    gallery, the history)."""
    http = signed_in(app)
    try:
        generated = http.post('/api/v1/images/generate', json={'prompt': 'a "cat" <b>bold</b>', 'size': 1024})
        assert generated.status_code == 202, generated.text
        pid = generated.json()['data']['id']
        for _ in range(300):
            if http.get(f'/api/v1/prompts/{pid}').json()['data']['status'] == 'COMPLETED':
                break
            time.sleep(0.1)
        else:
            raise AssertionError('the demo generation never completed')
        yield http
    finally:
        http.close()


@pytest.mark.parametrize('path', PAGES)
def test_a_closed_tab_leaves_no_cyclic_garbage(ada: httpx.Client, path: str) -> None:
    page_garbage(ada)  # what came before (sign-in, start-up, other pages) is not this page's
    for _ in range(3):
        answer = ada.get(path)
        assert answer.status_code == 200 and 'nicegui' in answer.text
    left, pinned = page_garbage(ada)
    assert left == [], f'{path}: closed tabs left cycles only the collector frees: {left}'
    # e.g. a ui.refreshable_method keeps every page's instance in one class-wide list until its next call
    assert pinned == {}, f'{path}: deleted tabs still held: {pinned}'
