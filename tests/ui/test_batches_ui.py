"""The Batch tab and the batch page as people use them (issue 17): a 200-row CSV previewed (row errors shown on
their rows, nothing submitted), fixed, started, followed live to the end; hostile text shown as text."""

from __future__ import annotations

import csv
import io

import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from tests.integration.api_support import app_services
from tests.ui.helpers import WAIT_S, eventually, should_see, sign_in

ROWS = 200
HOSTILE = 'a "quoted" \\ <b>bold</b> {{ x }}'


@pytest.fixture
def fast_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_DEMO_LATENCY', '0.05')  # read when the `user` fixture loads the app
    monkeypatch.setenv('NANOGEN_MAX_CONCURRENT_PER_USER', '41')
    monkeypatch.setenv('NANOGEN_BATCH_CONCURRENCY', '40')
    monkeypatch.setenv('NANOGEN_WORKER_CONCURRENCY', '80')


def sheet(bad_row: int | None = None) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(['prompt', 'size', 'ratio'])
    for i in range(1, ROWS + 1):
        writer.writerow([f'{HOSTILE} {i % 10}', '512', '7:3' if i == bad_row else '1:1'])
    return buf.getvalue().encode()


async def upload(user: User, data: bytes) -> None:
    element = user.find(marker='batch-file').elements.pop()
    assert isinstance(element, ui.upload)
    await element.handle_uploads([SmallFileUpload('products.csv', 'text/csv', data)])


def table_rows(user: User, marker: str) -> list[dict]:
    tables = list(user.find(marker=marker).elements)
    return list(tables[0].rows) if tables else []


async def test_a_200_row_csv_from_the_batch_tab_to_its_finished_page(fast_batches: None, user: User) -> None:
    demo = app_services().demo
    assert demo is not None
    demo.config.credits = 10_000.0
    await sign_in(user, then='/generator')
    user.find(marker='generator-tab-batch').click()
    user.find(marker='batch-tab-sheet').click()
    await upload(user, sheet(bad_row=17))
    await should_see(user, 'products.csv')
    user.find(marker='batch-preview').click()
    await should_see(user, '1 rows have errors', marker='batch-summary')
    rows = table_rows(user, 'batch-preview-table')
    assert len(rows) == ROWS and 'aspect ratio' in rows[16]['error'] and rows[0]['error'] == ''
    assert rows[0]['prompt'] == f'{HOSTILE} 1'  # as text, in a table cell
    assert not user.find(marker='batch-submit').elements.pop().enabled  # nothing can be submitted

    await upload(user, sheet())
    user.find(marker='batch-preview').click()
    await should_see(user, 'fits your budget', marker='batch-summary')
    user.find(marker='batch-name').type('Products')
    user.find(marker='batch-submit').click()
    await should_see(user, marker='batch-title')
    await should_see(user, 'Products')

    def done() -> bool:
        shown = table_rows(user, 'batch-rows')
        return len(shown) == ROWS and all(r['status'] == 'COMPLETED' for r in shown)
    await eventually(done, timeout=12 * WAIT_S, message='the batch page to show every row completed (live, no reload)')
    await should_see(user, f'Done · {ROWS} done · 0 running · 0 failed · 0 queued', marker='batch-counts')

    await user.open('/batches')
    listed = await eventually(lambda: table_rows(user, 'batch-list'))
    assert [(r['name'], r['status'], r['progress']) for r in listed] == [('Products', 'Done', f'{ROWS} / {ROWS}')]


async def test_pause_resume_and_cancel_from_the_batch_page_and_another_user_sees_nothing(
        user: User, create_user) -> None:  # type: ignore[no-untyped-def]
    await sign_in(user, then='/generator')
    user.find(marker='generator-tab-batch').click()
    user.find(marker='batch-lines').type('a fox in the snow\na fox in the rain\na fox in the sun\n' * 4)
    user.find(marker='batch-preview').click()
    await should_see(user, '12 rows', marker='batch-summary')
    user.find(marker='batch-submit').click()
    await should_see(user, marker='batch-title')
    batch_id = int(user.back_history[-1].rsplit('/', 1)[-1]) if user.back_history else None
    user.find(marker='batch-pause').click()
    await should_see(user, 'Paused ·', marker='batch-counts')
    user.find(marker='batch-resume').click()
    await should_see(user, 'Running ·', marker='batch-counts')
    user.find(marker='batch-cancel').click()
    await should_see(user, 'Cancelled ·', marker='batch-counts')

    bob = create_user()
    await sign_in(bob, 'Bob', 'bob@example.com', then='/batches')
    await should_see(bob, marker='no-batches')
    if batch_id is not None:
        await bob.open(f'/batches/{batch_id}')
        await should_see(bob, marker='batch-missing')


async def test_an_edit_after_the_preview_is_previewed_again_before_anything_starts(user: User) -> None:
    services = app_services()
    assert services.batches is not None
    await sign_in(user, then='/generator')
    user.find(marker='generator-tab-batch').click()
    user.find(marker='batch-lines').type('a fox in the snow\na fox in the rain')
    user.find(marker='batch-preview').click()
    await should_see(user, '2 rows', marker='batch-summary')
    user.find(marker='batch-lines').clear().type('a hare in the snow\na hare in the rain\na hare in the sun')
    user.find(marker='batch-submit').click()  # the preview showed foxes: the hares are previewed, not started
    await should_see(user, 'The input changed since the preview')
    await should_see(user, '3 rows', marker='batch-summary')
    assert [r['prompt'] for r in table_rows(user, 'batch-preview-table')] == [
        'a hare in the snow', 'a hare in the rain', 'a hare in the sun']
    uid = (await services.users.sign_in(subject='local:ada@example.com', email='ada@example.com', name='Ada')).id
    assert uid is not None and await services.batches.list_batches(uid) == []

    user.find(marker='batch-submit').click()  # what was previewed now is what starts
    await should_see(user, marker='batch-title')
    (made,) = await services.batches.list_batches(uid)
    assert [r.prompt for r in (await services.batches.get(uid, made.id)).rows] == [
        'a hare in the snow', 'a hare in the rain', 'a hare in the sun']
