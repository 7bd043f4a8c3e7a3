"""Every model end to end: the generation service against the contract fake over real HTTP, exact pixel sizes."""

from __future__ import annotations

import asyncio
import io
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from sqlmodel import select

from nanogen.errors import InvalidInput
from nanogen.generation.requests import validate_request
from nanogen.models import Image, Prompt
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status

NB_RATIOS = ('1:1', '9:16', '16:9', '3:4', '4:3', '3:2', '2:3', '5:4', '4:5', '21:9')
V2_RATIOS = ('1:1', '1:4', '1:8', '2:3', '3:2', '3:4', '4:1', '4:3', '4:5', '5:4', '8:1', '9:16', '16:9', '21:9',
             'auto')
LONG_SIDE = {'1K': 1024, '2K': 1536, '4K': 2048}  # the fake's rule, docs/nanobanana-api.md
REFS = ('https://refs.example/a.png', 'https://refs.example/b.png')


def expected_pixels(long_side: int, ratio: str) -> tuple[int, int]:
    """The documented rule, written out again here: long side given, short side rounded; auto is square."""
    if ratio == 'auto':
        return long_side, long_side
    w, h = (int(p) for p in ratio.split(':'))
    short = round(long_side * min(w, h) / max(w, h))
    return (long_side, short) if w >= h else (short, long_side)


async def run_all(services: Any, uid: int, cases: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Prompt]]:
    prompts = []
    for n, case in enumerate(cases):
        req = validate_request(prompt=f'case {n}: a lighthouse', settings=services.settings, **case)
        prompts.append(await services.generation.create(uid, req))
    done = await asyncio.gather(*(wait_status(services, p.id, {'COMPLETED', 'FAILED'}, timeout=240)
                                  for p in prompts))
    return list(zip(cases, done, strict=True))


async def images_of(services: Any, pid: int) -> list[Image]:
    return await services.db.run(lambda s: list(s.exec(select(Image).where(Image.prompt_id == pid)
                                                       .order_by(Image.position))))


def grid(model: str, keys: tuple[Any, ...], ratios: tuple[str, ...], key: str) -> list[dict[str, Any]]:
    """Every size/resolution at every ratio, text to image; and every ratio with references at the first key."""
    cases = [{'model': model, key: k, 'aspect_ratio': r} for k in keys for r in ratios]
    cases += [{'model': model, key: keys[0], 'aspect_ratio': r, 'reference_urls': REFS} for r in ratios]
    return cases


@pytest.mark.parametrize('model, keys, ratios, key', [
    ('nanobanana', (512, 768, 1024, 1536), NB_RATIOS, 'size'),
    ('nanobanana-pro', ('1K', '2K', '4K'), (*NB_RATIOS, 'auto'), 'resolution'),
    ('nanobanana-2', ('1K', '2K', '4K'), V2_RATIOS, 'resolution'),
])
async def test_every_size_and_ratio_of_each_model_has_exact_pixels(fake, make_services, isolated_env: Path, model: str,
                                                                   keys: tuple[Any, ...], ratios: tuple[str, ...],
                                                                   key: str) -> None:
    provider, url = fake
    provider.config.latency_s = 0.05
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/m.db', url,
                                                 NANOGEN_MAX_CONCURRENT_PER_USER=200))
    uid = await add_user(services)
    endpoint = {'nanobanana': 'generate', 'nanobanana-pro': 'generate-pro', 'nanobanana-2': 'generate-2'}[model]
    for case, done in await run_all(services, uid, grid(model, keys, ratios, key)):
        assert done.status == 'COMPLETED', (case, done.error_message)
        long_side = case['size'] if key == 'size' else LONG_SIDE[case['resolution']]
        [image] = await images_of(services, done.id)
        assert (image.width, image.height) == expected_pixels(long_side, case['aspect_ratio']), case
        stored = PILImage.open(io.BytesIO(await services.storage.get(image.key)))
        assert stored.size == expected_pixels(long_side, case['aspect_ratio']), case
        task = provider.tasks[done.provider_task_id]
        assert provider.calls[f'/api/v1/nanobanana/{endpoint}'] > 0
        assert task.model == endpoint
        assert (done.model, done.resolution) == (model, case.get('resolution'))
        if case.get('reference_urls'):
            assert task.params['imageUrls'] == list(REFS) and done.task_type == 'IMAGE_TO_IMAGE'
        elif model == 'nanobanana-2':
            assert task.params['imageUrls'] == []  # generate-2: an empty list means text to image


async def test_nano_banana_2_body_options_jpg_and_billed_operation(fake, make_services, isolated_env: Path,
                                                                  database_url: str) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, database_url, url))
    uid = await add_user(services)
    req = validate_request(prompt='a map of the harbour', model='nanobanana-2', resolution='2K', aspect_ratio='4:1',
                           google_search=True, settings=services.settings)
    assert req.output_format == 'jpg' and req.estimated_cost(services.settings) == Decimal('0.06')
    done = await wait_status(services, (await services.generation.create(uid, req)).id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED', done.error_message
    params = provider.tasks[done.provider_task_id].params
    assert {k: v for k, v in params.items() if k != 'callBackUrl'} == {
        'prompt': 'a map of the harbour', 'imageUrls': [], 'aspectRatio': '4:1', 'resolution': '2K',
        'googleSearch': True, 'outputFormat': 'jpg'}
    assert done.billed_operation == 'nano-banana-2_2k' and not done.billing_mismatch
    assert done.cost == done.estimated_cost == Decimal('0.06')
    [image] = await images_of(services, done.id)
    assert image.original_key.endswith('.jpg') and (image.width, image.height) == (1536, 384)
    assert PILImage.open(io.BytesIO(await services.storage.get(image.original_key))).format == 'JPEG'


async def test_png_output_format_keeps_a_png_original(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/p.db', url))
    uid = await add_user(services)
    req = validate_request(prompt='a png please', model='nanobanana-2', output_format='png', settings=services.settings)
    done = await wait_status(services, (await services.generation.create(uid, req)).id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED', done.error_message
    assert provider.tasks[done.provider_task_id].params['outputFormat'] == 'png'
    [image] = await images_of(services, done.id)
    assert PILImage.open(io.BytesIO(await services.storage.get(image.original_key))).format == 'PNG'


async def test_billing_mismatch_is_recorded_logged_and_priced_as_billed(fake, make_services, isolated_env: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/b.db', url))
    uid = await add_user(services)
    original = provider._record_data

    def bill_4k(task: Any, base_url: str) -> dict[str, Any]:
        data = original(task, base_url)
        if data['successFlag'] == 1:
            data['operationType'] = 'nano-banana-2_4k'  # the service billed more than was asked for
        return data

    provider._record_data = bill_4k  # type: ignore[method-assign]
    req = validate_request(prompt='a small sketch', model='nanobanana-2', resolution='1K', settings=services.settings)
    with caplog.at_level(logging.WARNING, logger='nanogen.generation.billing'):
        done = await wait_status(services, (await services.generation.create(uid, req)).id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED', done.error_message
    assert (done.billed_operation, done.billing_mismatch) == ('nano-banana-2_4k', True)
    assert done.estimated_cost == Decimal('0.04') and done.cost == Decimal('0.08')
    assert any('billed' in r.getMessage() and 'nano-banana-2_4k' in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize('fields, field, message', [
    ({'model': 'nanobanana-2', 'aspect_ratio': '9:21'}, 'aspect_ratio', 'Choose an aspect ratio'),
    ({'model': 'nanobanana', 'aspect_ratio': '8:1'}, 'aspect_ratio', 'Choose an aspect ratio'),
    ({'model': 'nanobanana-pro', 'aspect_ratio': '1:4'}, 'aspect_ratio', 'Choose an aspect ratio'),
    ({'model': 'nanobanana', 'resolution': '2K'}, 'resolution', 'sized in pixels'),
    ({'model': 'nanobanana-2', 'size': 512}, 'size', 'sized by resolution'),
    ({'model': 'nanobanana-2', 'resolution': '8K'}, 'resolution', '1K, 2K, 4K'),
    ({'model': 'nanobanana-pro', 'google_search': True}, 'google_search', 'no Google-search grounding'),
    ({'model': 'nanobanana', 'output_format': 'png'}, 'output_format', 'no output format'),
    ({'model': 'nanobanana-2', 'output_format': 'gif'}, 'output_format', 'png, jpg'),
    ({'model': 'nanobanana', 'reference_urls': [f'https://r/{n}' for n in range(5)]}, 'reference_urls', 'at most 4'),
    ({'model': 'nanobanana-pro', 'reference_urls': [f'https://r/{n}' for n in range(9)]}, 'reference_urls',
     'at most 8'),
    ({'model': 'nanobanana-2', 'reference_urls': [f'https://r/{n}' for n in range(15)]}, 'reference_urls',
     'at most 14'),
    ({'model': 'dall-e'}, 'model', 'Choose a model'),
])
def test_each_model_refuses_what_it_does_not_offer(isolated_env: Path, fields: dict[str, Any], field: str,
                                                   message: str) -> None:
    settings = make_settings(isolated_env, 'sqlite://', 'http://x')
    with pytest.raises(InvalidInput) as caught:
        validate_request(prompt='a lighthouse', settings=settings, **fields)
    assert caught.value.field == field and message in caught.value.user_message


def test_models_setting_limits_what_is_offered_and_sets_the_default(isolated_env: Path) -> None:
    settings = make_settings(isolated_env, 'sqlite://', 'http://x', NANOGEN_MODELS='nanobanana-2,nanobanana',
                             NANOGEN_DEFAULT_MODEL='nanobanana-2')
    assert validate_request(prompt='a lighthouse', settings=settings).model == 'nanobanana-2'
    assert validate_request(prompt='a lighthouse', settings=settings).resolution == '1K'
    with pytest.raises(InvalidInput, match='Choose a model this studio offers: nanobanana-2'):
        validate_request(prompt='a lighthouse', model='nanobanana-pro', settings=settings)
    for bad in ({'NANOGEN_MODELS': 'nanobanana,gpt-image'}, {'NANOGEN_MODELS': ' , '},
                {'NANOGEN_MODELS': 'nanobanana', 'NANOGEN_DEFAULT_MODEL': 'nanobanana-2'}):
        with pytest.raises(ValueError, match='NANOGEN_'):
            make_settings(isolated_env, 'sqlite://', 'http://x', **bad)


async def test_a_resolution_price_override_reaches_the_estimate_and_the_cost(fake, make_services,
                                                                            isolated_env: Path) -> None:
    _provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/p.db', url,
                                                 NANOGEN_MODEL_PRICES='{"nanobanana-2": {"4K": 0.1}}'))
    uid = await add_user(services)
    req = validate_request(prompt='a tall lighthouse', model='nanobanana-2', resolution='4K', num_images=2,
                           settings=services.settings)
    assert req.estimated_cost(services.settings) == Decimal('0.2')  # what the generator shows, and budgets check
    done = await wait_status(services, (await services.generation.create(uid, req)).id, {'COMPLETED', 'FAILED'},
                             timeout=60)
    assert done.status == 'COMPLETED', done.error_message
    assert done.estimated_cost == Decimal('0.2') and done.cost == Decimal('0.2')  # billed nano-banana-2_4k twice
    assert done.billed_operation == 'nano-banana-2_4k,nano-banana-2_4k' and done.billing_mismatch is False
