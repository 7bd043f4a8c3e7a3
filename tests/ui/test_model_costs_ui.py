"""Costs per model and resolution, exactly as billed, in the history and the analytics."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from nanogen.generation.requests import validate_request
from tests.ui.helpers import eventually, should_see, sign_in
from tests.ui.studio import app_services, user_id, wait_finished

CASES = [  # (fields, what history and analytics call it, its exact cost)
    ({'model': 'nanobanana', 'size': 512, 'num_images': 2}, '512px', '$0.0100'),
    ({'model': 'nanobanana-pro', 'resolution': '4K'}, 'Nano Banana Pro 4K', '$0.1200'),
    ({'model': 'nanobanana-2', 'resolution': '2K'}, 'Nano Banana 2 2K', '$0.0600'),
    ({'model': 'nanobanana-2', 'resolution': '1K', 'aspect_ratio': '1:8'}, 'Nano Banana 2 1K', '$0.0400'),
    # three images from a model without numImages: three tasks on one prompt, three times the price
    ({'model': 'nanobanana-2', 'resolution': '4K', 'num_images': 3}, 'Nano Banana 2 4K', '$0.2400'),
]


def table_rows(user: User, marker: str) -> list[dict]:
    return list(user.find(marker=marker, kind=ui.table).elements.pop().rows)


async def test_history_and_analytics_show_each_models_exact_cost(user: User) -> None:
    await sign_in(user, then='/dashboard')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    for n, (fields, _, _) in enumerate(CASES):
        req = validate_request(prompt=f'cost case {n}', settings=services.settings, **fields)
        prompt = await services.generation.create(uid, req)
        assert await wait_finished(services, uid, prompt.id) == 'COMPLETED'
    await user.open('/history')
    await eventually(lambda: len(table_rows(user, 'history-table')) == len(CASES))
    rows = {r['prompt']: (r['size'], r['cost']) for r in table_rows(user, 'history-table')}
    assert rows == {f'cost case {n}': (label, cost) for n, (_, label, cost) in enumerate(CASES)}
    await user.open('/analytics')
    await eventually(lambda: table_rows(user, 'size-table'))
    by_label = {r['size']: r['spend'] for r in table_rows(user, 'size-table')}
    assert by_label == {label: cost for _, label, cost in CASES}
    await should_see(user, '$0.4700')  # the range's total spend
