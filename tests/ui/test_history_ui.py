"""History as a person sees it: the table, filters, paging, retry, CSV export, and one user's data only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import httpx
from nicegui import ui
from nicegui.testing import User

from nanogen.bootstrap import Services
from nanogen.models import Prompt, utcnow
from tests.ui.helpers import eventually, should_see, sign_in
from tests.ui.studio import app_services, text_of, user_id


async def seed(services: Services, uid: int, n: int, *, status: str = 'COMPLETED', size: int = 1024,
               text: str = 'seeded prompt', days_ago: int = 0) -> None:
    def work(s) -> None:
        for i in range(n):
            at = utcnow() - timedelta(days=days_ago, seconds=i)
            s.add(Prompt(user_id=uid, prompt=f'{text} {i}', status=status, image_size=size,
                         cost=Decimal('0.0125') if status == 'COMPLETED' else Decimal(0), duration_ms=1500 + i,
                         error_message='The provider could not generate this image.' if status == 'FAILED' else None,
                         created_at=at, updated_at=at, completed_at=at))
        s.commit()
    await services.db.write(work)


def rows(user: User) -> list[dict]:
    table = user.find(marker='history-table').elements.pop()
    assert isinstance(table, ui.table)
    return table.rows


async def test_empty_history_is_helpful(user: User) -> None:
    await sign_in(user, then='/history')
    await should_see(user, 'No prompts yet. Your generations will be listed here.')
    assert text_of(user, 'history-summary') == '0 of 0'


async def test_table_pages_filters_and_never_shows_another_users_prompts(user: User) -> None:
    await sign_in(user)
    services = app_services()
    ada, bob = await user_id(services, 'ada@example.com'), await user_id(services, 'bob@example.com')
    await seed(services, ada, 30, text='harbour')
    await seed(services, ada, 2, status='FAILED', size=512, text='broken')
    await seed(services, bob, 5, text="bob's secret")
    await user.open('/history')
    assert len(rows(user)) == 25 and text_of(user, 'history-summary') == '1–25 of 32'
    assert not any("bob's" in r['prompt'] for r in rows(user))
    user.find(marker='page-next').click()
    await eventually(lambda: text_of(user, 'history-summary') == '26–32 of 32')
    user.find(marker='page-prev').click()
    await eventually(lambda: text_of(user, 'history-summary') == '1–25 of 32')
    user.find(marker='filter-status').elements.pop().value = 'FAILED'
    await eventually(lambda: text_of(user, 'history-summary') == '1–2 of 2')
    assert {r['size'] for r in rows(user)} == {'512px'} and rows(user)[0]['error']
    user.find(marker='filter-status').elements.pop().value = ''
    user.find(marker='filter-search').elements.pop().value = 'harbour 1'  # harbour 1, 10..19
    await eventually(lambda: text_of(user, 'history-summary') == '1–11 of 11')
    user.find(marker='filter-search').elements.pop().value = 'no such words'
    await should_see(user, 'No prompts match these filters. Clear a filter to see more.')


async def test_sort_and_date_range(user: User) -> None:
    await sign_in(user)
    services = app_services()
    ada = await user_id(services, 'ada@example.com')
    await seed(services, ada, 3, text='recent')
    await seed(services, ada, 2, text='old', days_ago=40)
    await user.open('/history')
    user.find(marker='filter-sort').elements.pop().value = 'oldest'
    await eventually(lambda: rows(user)[0]['prompt'].startswith('old'))
    user.find(marker='filter-sort').elements.pop().value = 'duration'
    await eventually(lambda: rows(user)[0]['duration'] == '1.5 s' and rows(user)[0]['prompt'] in ('old 1', 'recent 2'))
    today = utcnow().date()
    user.find(marker='filter-from').elements.pop().value = str(today - timedelta(days=1))
    await eventually(lambda: text_of(user, 'history-summary') == '1–3 of 3')
    user.find(marker='filter-to').elements.pop().value = str(today - timedelta(days=10))  # before the start
    await should_see(user, 'The start date must not be after the end date.')
    assert len(rows(user)) == 3  # the table keeps what it had


async def test_retry_a_failed_prompt_from_history(user: User) -> None:
    await sign_in(user)
    services = app_services()
    ada = await user_id(services, 'ada@example.com')
    await seed(services, ada, 1, status='FAILED', text='try me again')
    await user.open('/history')
    (failed,) = rows(user)
    assert failed['retryable']
    user.find(marker='history-table').trigger('retry', failed['id'])
    await should_see(user, 'Queued again as #2 with the same settings.')
    await eventually(lambda: any(r['status'] == 'COMPLETED' and r['prompt'] == 'try me again 0' for r in rows(user)))
    assert text_of(user, 'history-summary') == '1–2 of 2'


async def test_retry_of_another_users_prompt_is_refused(user: User) -> None:
    await sign_in(user)
    services = app_services()
    bob, ada = await user_id(services, 'bob@example.com'), await user_id(services, 'ada@example.com')
    await seed(services, bob, 1, status='FAILED')
    await seed(services, ada, 1, status='FAILED')
    await user.open('/history')
    user.find(marker='history-table').trigger('retry', 1)  # bob's prompt id
    await should_see(user, 'That generation does not exist.')


async def test_csv_export_streams_the_filtered_history_of_the_signed_in_user(user: User) -> None:
    await sign_in(user)
    services = app_services()
    ada, bob = await user_id(services, 'ada@example.com'), await user_id(services, 'bob@example.com')
    await seed(services, ada, 3, text='=cmd|calc')  # a formula must come out as text
    await seed(services, ada, 1, status='FAILED', text='failed one')
    await seed(services, bob, 2, text="bob's")
    response = await user.http_client.get('/history.csv')
    assert response.status_code == 200 and response.headers['content-type'].startswith('text/csv')
    assert 'attachment' in response.headers['content-disposition']
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert len(table) == 4 and not any("bob's" in r['prompt'] for r in table)
    assert {r['prompt'] for r in table if r['status'] == 'COMPLETED'} == {"'=cmd|calc 0", "'=cmd|calc 1", "'=cmd|calc 2"}
    failed = await user.http_client.get('/history.csv', params={'status': 'failed'})
    (row,) = csv.DictReader(io.StringIO(failed.text))
    assert row['error'] == 'The provider could not generate this image.'
    bad = await user.http_client.get('/history.csv', params={'date_from': 'last tuesday'})
    assert bad.status_code == 422
    assert bad.json()['error'] == {'code': 'invalid_input', 'field': 'date_from',
                                   'message': 'Write the date as YYYY-MM-DD, like 2026-01-31 (got "last tuesday").'}
    assert (await user.http_client.get('/history.csv', params={'size': '999'})).status_code == 422
    assert (await user.http_client.get('/history.csv', params={'sort': 'random'})).status_code == 422


async def test_csv_export_needs_a_signed_in_user(user: User) -> None:
    async with httpx.AsyncClient(transport=user.http_client._transport, base_url='http://test') as anonymous:
        response = await anonymous.get('/history.csv', headers={'accept': 'application/json'})
    assert response.status_code == 401


async def test_export_button_downloads_with_the_filters(user: User) -> None:
    await sign_in(user)
    services = app_services()
    ada = await user_id(services, 'ada@example.com')
    await seed(services, ada, 2, text='fine')
    await seed(services, ada, 1, status='FAILED', text='broken')
    await user.open('/history')
    user.find(marker='filter-status').elements.pop().value = 'FAILED'
    user.find(marker='export-csv').click()
    response = await user.download.next()
    assert response.url.path == '/history.csv' and response.url.params['status'] == 'FAILED'
    assert [r['prompt'] for r in csv.DictReader(io.StringIO(response.text))] == ['broken 0']
    await should_see(user, 'Exporting your history as CSV')


async def test_csv_export_neutralises_every_formula_character(user: User) -> None:
    """Issue 13 item 4: a prompt or error message starting with any of = + - @ tab CR comes out of history.csv as
    text, behind a quote, never as a cell a spreadsheet would run."""
    await sign_in(user)
    services = app_services()
    ada = await user_id(services, 'ada@example.com')
    starts = ('=', '+', '-', '@', '\t', '\r')
    for c in starts:
        await seed(services, ada, 1, text=f'{c}cmd|calc')

    def failure(s) -> None:  # the error column is user-visible text too
        at = utcnow()
        s.add(Prompt(user_id=ada, prompt='failed', status='FAILED', error_message='@SUM(A1)', created_at=at,
                     updated_at=at))
        s.commit()
    await services.db.write(failure)
    table = list(csv.DictReader(io.StringIO((await user.http_client.get('/history.csv')).text)))
    assert sorted(r['prompt'] for r in table if r['status'] == 'COMPLETED') == sorted(f"'{c}cmd|calc 0"
                                                                                     for c in starts)
    assert [r['error'] for r in table if r['status'] == 'FAILED'] == ["'@SUM(A1)"]
