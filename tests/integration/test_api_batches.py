"""/api/v1/batches over HTTP with personal tokens (issue 17): a 200-row CSV batch end to end against the contract
fake (the demo provider in-process), its zip's metadata.csv checked against the rows; preview, errors, access."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from nicegui.testing import User

from tests.integration.api_support import ApiUser, api_user, app_services, error_of
from tests.support.waits import until

ROWS = 200


@pytest.fixture
def fast_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read when the `user` fixture loads the app: a quick demo provider and room for many rows at once. SQLite
    only: the 200 rows cost ~20 s a database, and tests/integration/test_batches.py runs the queue on both."""
    monkeypatch.setenv('NANOGEN_DEMO_LATENCY', '0.05')
    monkeypatch.setenv('NANOGEN_MAX_CONCURRENT_PER_USER', '41')
    monkeypatch.setenv('NANOGEN_BATCH_CONCURRENCY', '40')
    monkeypatch.setenv('NANOGEN_WORKER_CONCURRENCY', '80')
    monkeypatch.setenv('NANOGEN_API_RATE_PER_MINUTE', '100000')  # the test polls the API while it waits


def sheet(n: int) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(['prompt', 'model', 'size', 'ratio', 'images'])
    for i in range(1, n + 1):
        model, size = ('nanobanana-2', '1K') if i % 10 == 0 else ('nanobanana', '512')
        # Ten distinct prompts: the fake draws each once (its image cache), so the run measures nanogen, not Pillow.
        writer.writerow([f'a "product" shot, colour {i % 10}\\n', model, size, '16:9' if i % 2 else '1:1', 1])
    return buf.getvalue().encode()


async def batch(api: ApiUser, batch_id: int) -> dict[str, Any]:
    r = await api.get(f'/api/v1/batches/{batch_id}')
    assert r.status_code == 200, r.text
    return r.json()['data']


async def test_a_200_row_csv_batch_runs_end_to_end_and_its_zip_matches(fast_batches: None, user: User) -> None:
    ada = await api_user(user)
    demo = app_services().demo
    assert demo is not None
    demo.config.credits = 10_000.0  # the demo account starts with 100 credits
    files = {'file': ('products.csv', sheet(ROWS), 'text/csv')}
    preview = await ada.client.post('/api/v1/batches/upload', params={'dry_run': 'true'}, files=files)
    assert preview.status_code == 200, preview.text
    plan = preview.json()['data']
    assert (plan['row_count'], plan['errors'], plan['budget_ok']) == (ROWS, 0, True)
    assert plan['rows'][9]['model'] == 'nanobanana-2' and plan['rows'][9]['size'] == '1K'
    assert (await ada.get('/api/v1/batches')).json()['data']['items'] == []  # a dry run stores nothing

    made = await ada.client.post('/api/v1/batches/upload', files=files, data={'name': 'Products'})
    assert made.status_code == 201, made.text
    created = made.json()['data']
    assert created['total_rows'] == ROWS and created['name'] == 'Products' and created['source'] == 'csv'
    began = time.monotonic()

    async def done() -> bool:  # the list's counts, not the 200 rows, so polling costs the run little
        return (await ada.get('/api/v1/batches', params={'limit': 1})).json()['data']['items'][0]['status'] == 'DONE'
    await until(done, timeout=120, what='the 200-row batch to finish')
    finished = await batch(ada, created['id'])
    assert finished['counts'] == {'done': ROWS, 'running': 0, 'failed': 0, 'queued': 0, 'cancelled': 0}, (
        finished['counts'], time.monotonic() - began)

    r = await ada.get(f"/api/v1/batches/{created['id']}/zip")
    assert r.status_code == 200 and r.headers['content-type'] == 'application/zip'
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    meta = list(csv.DictReader(io.StringIO(archive.read('metadata.csv').decode())))
    assert [int(m['row']) for m in meta] == list(range(1, ROWS + 1))
    # Against the INPUT sheet (row n is the sheet's n-th data row), not only the API's own view of the rows.
    given = list(csv.DictReader(io.StringIO(sheet(ROWS).decode())))
    assert [(m['prompt'], m['model'], m['size'], m['aspect_ratio'], m['variables']) for m in meta] == [
        (g['prompt'], g['model'], g['size'], g['ratio'], '') for g in given]
    by_row = {row['row']: row for row in finished['rows']}
    for m in meta:
        row = by_row[int(m['row'])]
        assert (m['prompt'], m['model'], m['size'], m['status']) == (row['prompt'], row['model'], row['size'],
                                                                     'COMPLETED')
        assert float(m['cost']) == float(row['cost']) > 0
        names = m['files'].split()
        assert len(names) == len(row['image_ids']) == 1 and names[0] in archive.namelist()
    assert len(archive.namelist()) == ROWS + 1

    board = (await ada.client.post('/api/v1/boards', json={'name': 'Products'})).json()['data']
    put = await ada.client.post(f"/api/v1/batches/{created['id']}/board", json={'board_id': board['id']})
    assert put.status_code == 200 and len(put.json()['data']['added']) == ROWS


async def test_a_template_batchs_zip_lists_each_rows_variables(fast_batches: None, user: User) -> None:
    ada = await api_user(user)
    products, surfaces = ['mug', 'lamp, brass', 'vase "tall"'], ['desk', 'rug', 'shelf']
    body = {'template': 'a {product} on a {surface}', 'variables': {'product': products, 'surface': surfaces},
            'mode': 'zip', 'defaults': {'model': 'nanobanana-2', 'size': '1K', 'ratio': '4:3'}}
    made = await ada.client.post('/api/v1/batches', json=body)
    assert made.status_code == 201, made.text
    batch_id = made.json()['data']['id']

    async def done() -> bool:
        return (await batch(ada, batch_id))['status'] == 'DONE'
    await until(done, timeout=60, what='the template batch to finish')
    r = await ada.get(f'/api/v1/batches/{batch_id}/zip')
    assert r.status_code == 200, r.text
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    meta = list(csv.DictReader(io.StringIO(archive.read('metadata.csv').decode())))
    # The n-th values together (zip mode), each row's own values as JSON, and the defaults on every row.
    assert [(m['row'], m['prompt'], json.loads(m['variables']), m['model'], m['size'], m['aspect_ratio'])
            for m in meta] == [(str(n), f'a {p} on a {s}', {'product': p, 'surface': s}, 'nanobanana-2', '1K', '4:3')
                               for n, (p, s) in enumerate(zip(products, surfaces, strict=True), 1)]
    assert all(m['status'] == 'COMPLETED' and m['files'].split()[0] in archive.namelist() for m in meta)


async def test_rows_errors_templates_commands_and_access(user: User) -> None:
    ada = await api_user(user)
    bob = await api_user(user, 'bob@example.com')
    bad = {'rows': [{'prompt': 'a fine fox'}, {'prompt': 'a fox', 'ratio': '7:3'}, {'prompt': 'x'}]}
    preview = (await ada.client.post('/api/v1/batches?dry_run=true', json=bad)).json()['data']
    assert [r['field'] for r in preview['rows']] == [None, 'ratio', 'prompt'] and preview['errors'] == 2
    refused = error_of(await ada.client.post('/api/v1/batches', json=bad), 422)
    assert '2 of 3 rows have errors' in refused['message'] and refused['field'] == 'rows'
    assert error_of(await ada.client.post('/api/v1/batches', json={}), 422)['field'] == 'rows'
    bad_sheet = {'file': ('x.xlsx', b'PK not really', 'application/octet-stream')}
    assert 'Excel' in error_of(await ada.client.post('/api/v1/batches/upload', files=bad_sheet), 422)['message']

    body = {'template': 'a {product} on a {surface}', 'variables': {'product': ['mug', 'lamp'],
                                                                     'surface': ['desk', 'rug']},
            'defaults': {'ratio': '4:3'}, 'name': 'Mugs <b>&</b> lamps'}
    made = await ada.client.post('/api/v1/batches', json=body)
    assert made.status_code == 201, made.text
    batch_id = made.json()['data']['id']
    url = f'/api/v1/batches/{batch_id}'
    rows = (await batch(ada, batch_id))['rows']
    assert rows[0]['variables'] == {'product': 'mug', 'surface': 'desk'} and rows[0]['aspect_ratio'] == '4:3'
    assert (await ada.client.post(f'{url}/pause')).json()['data']['status'] == 'PAUSED'
    assert (await ada.client.post(f'{url}/resume')).json()['data']['status'] == 'RUNNING'
    assert error_of(await ada.client.post(f'{url}/resume'), 422)['field'] == 'status'
    listed = (await ada.get('/api/v1/batches', params={'limit': 1})).json()['data']
    assert [b['id'] for b in listed['items']] == [batch_id] and listed['items'][0]['name'] == 'Mugs <b>&</b> lamps'

    # Bob: the same 404 as a missing batch, for every route; nothing of Ada's changes.
    for method, path in (('GET', url), ('POST', f'{url}/pause'), ('POST', f'{url}/resume'), ('POST', f'{url}/cancel'),
                         ('POST', f'{url}/retry-failed'), ('GET', f'{url}/zip'), ('GET', '/api/v1/batches/999999')):
        error_of(await bob.client.request(method, path), 404)
    error_of(await bob.client.post(f'{url}/board', json={'board_id': 1}), 404)
    assert (await bob.get('/api/v1/batches')).json()['data']['items'] == []

    async def ended() -> bool:
        return (await batch(ada, batch_id))['status'] in ('DONE', 'CANCELLED')
    await ada.client.post(f'{url}/cancel')
    await until(ended, what='the batch to end')


def xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook
    book = Workbook()
    sheet_ = book.active
    assert sheet_ is not None
    for row in rows:
        sheet_.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def png() -> bytes:
    from PIL import Image as PILImage
    out = io.BytesIO()
    PILImage.new('RGB', (64, 48), (200, 40, 40)).save(out, format='PNG')
    return out.getvalue()


async def test_an_xlsx_with_references_by_gallery_id_and_file_an_over_long_row_and_the_402(
        fast_batches: None, user: User) -> None:
    from sqlmodel import col, select

    from nanogen.models import BatchRow, Prompt
    from nanogen.models import User as UserRow
    ada = await api_user(user)
    first = (await ada.client.post('/api/v1/batches', json={'lines': 'a red fox'})).json()['data']

    async def first_done() -> bool:
        return (await batch(ada, first['id']))['status'] == 'DONE'
    await until(first_done, timeout=60, what='the first batch')
    (image_id,) = (await batch(ada, first['id']))['rows'][0]['image_ids']

    header = ['prompt', 'reference', 'ratio']
    good = [['make it blue', image_id, '4:3'], ['make it green', 'ref.png', '1:1']]
    files = [('file', ('refs.xlsx', xlsx([header, *good, ['x' * 2001, None, '1:1'], ['make it grey', 'nope.png',
                                                                                     '1:1']]),
                       'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')),
             ('references', ('ref.png', png(), 'image/png'))]
    preview = await ada.client.post('/api/v1/batches/upload', params={'dry_run': 'true'}, files=files)
    assert preview.status_code == 200, preview.text
    rows = preview.json()['data']['rows']
    assert [(r['row'], r['field']) for r in rows] == [(1, None), (2, None), (3, 'prompt'), (4, 'reference')]
    assert rows[2]['error'].startswith('The prompt is too long: 2001 characters') and 'nope.png' in rows[3]['error']
    refused = error_of(await ada.client.post('/api/v1/batches/upload', files=files), 422)
    assert '2 of 4 rows have errors' in refused['message']

    files[0] = ('file', ('refs.xlsx', xlsx([header, *good]), 'application/octet-stream'))
    made = await ada.client.post('/api/v1/batches/upload', files=files)
    assert made.status_code == 201, made.text
    created = made.json()['data']
    assert created['source'] == 'xlsx' and created['total_rows'] == 2

    async def done() -> bool:
        return (await batch(ada, created['id']))['status'] == 'DONE'
    await until(done, timeout=60, what='the xlsx batch')
    finished = await batch(ada, created['id'])
    assert [(r['prompt'], r['reference'], r['aspect_ratio'], r['status']) for r in finished['rows']] == [
        ('make it blue', str(image_id), '4:3', 'COMPLETED'), ('make it green', 'ref.png', '1:1', 'COMPLETED')]
    prompts = await app_services().db.run(lambda s: list(s.exec(
        select(Prompt).join(BatchRow, col(BatchRow.prompt_id) == col(Prompt.id))
        .where(col(BatchRow.batch_id) == created['id']).order_by(col(BatchRow.row_number)))))
    urls = [json.loads(p.reference_urls or '[]') for p in prompts]
    assert [len(u) for u in urls] == [1, 1] and urls[0] != urls[1] and all('/refs/' in u[0] for u in urls)
    assert {p.task_type for p in prompts} == {'IMAGE_TO_IMAGE'}

    # Bob's budget holds 5 of 8 rows: the whole batch is refused with 402, saying so, and nothing is recorded.
    bob = await api_user(user, 'bob@example.com')

    def budget(s) -> None:  # type: ignore[no-untyped-def]
        row = s.get(UserRow, bob.id)
        row.monthly_budget = 5 * Decimal(preview.json()['data']['rows'][0]['estimated_cost'])
        s.add(row)
        s.commit()
    await app_services().db.write(budget)
    eight = {'lines': '\n'.join(f'a fox number {i}' for i in range(1, 9))}
    dry = (await bob.client.post('/api/v1/batches', params={'dry_run': 'true'}, json=eight)).json()['data']
    assert dry['budget_ok'] is False and 'Only 5 of the 8 rows would fit' in dry['budget_message']
    too_much = error_of(await bob.client.post('/api/v1/batches', json=eight), 402)
    assert 'Only 5 of the 8 rows would fit; nothing was submitted.' in too_much['message']
    assert (await bob.get('/api/v1/batches')).json()['data']['items'] == []
