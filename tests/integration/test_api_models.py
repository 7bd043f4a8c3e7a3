"""REST API: the models on offer, generating with each, and refusing what a model does not support."""

from __future__ import annotations

import pytest
from nicegui.testing import User

from tests.integration.api_support import api_user, error_of, prompt_count, wait_finished


async def test_models_lists_what_each_offers_with_prices(user: User) -> None:
    api = await api_user(user)
    r = await api.get('/api/v1/models')
    assert r.status_code == 200, r.text
    models = {m['id']: m for m in r.json()['data']}
    assert list(models) == ['nanobanana', 'nanobanana-pro', 'nanobanana-2']
    standard, pro, two = models['nanobanana'], models['nanobanana-pro'], models['nanobanana-2']
    assert standard['default'] and standard['sizes'] == [512, 768, 1024, 1536] and standard['resolutions'] == []
    assert standard['max_images'] == 4 and standard['max_reference_images'] == 4
    assert standard['prices'] == {'512': '0.005', '768': '0.01', '1024': '0.0125', '1536': '0.045'}
    assert pro['resolutions'] == ['1K', '2K', '4K'] and pro['max_reference_images'] == 8 and 'auto' in pro[
        'aspect_ratios'] and pro['max_images'] == 4 and pro['images_per_request'] == 1 and not pro['google_search']
    assert pro['prices'] == {'1K': '0.09', '2K': '0.09', '4K': '0.12'}
    assert two['max_reference_images'] == 14 and len(two['aspect_ratios']) == 15 and two['google_search']
    assert two['output_formats'] == ['png', 'jpg'] and two['prices'] == {'1K': '0.04', '2K': '0.06', '4K': '0.08'}


@pytest.mark.parametrize('body, pixels, cost', [
    ({'model': 'nanobanana-2', 'resolution': '2K', 'aspect_ratio': '8:1', 'google_search': True}, (1536, 192), '0.06'),
    ({'model': 'nanobanana-pro', 'resolution': '4K', 'aspect_ratio': 'auto'}, (2048, 2048), '0.12'),
    ({'model': 'nanobanana', 'size': 768, 'aspect_ratio': '3:4'}, (576, 768), '0.01'),
])
async def test_generate_with_each_model_over_the_api(user: User, body: dict[str, object], pixels: tuple[int, int],
                                                     cost: str) -> None:
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', json={'prompt': 'a harbour at dawn', **body})
    assert r.status_code == 202, r.text
    done = await wait_finished(api, r.json()['data']['id'])
    assert done['status'] == 'COMPLETED', done['error_message']
    assert (done['model'], done['resolution']) == (body['model'], body.get('resolution'))
    assert done['estimated_cost'] == done['cost'] == cost
    assert (done['images'][0]['width'], done['images'][0]['height']) == pixels
    if body['model'] == 'nanobanana-2':
        assert done['billed_operation'] == 'nano-banana-2_2k'


@pytest.mark.parametrize('body, field, text', [
    ({'model': 'nanobanana', 'aspect_ratio': '8:1'}, 'aspect_ratio', 'Choose an aspect ratio'),
    ({'model': 'nanobanana-2', 'size': 512}, 'size', 'sized by resolution'),
    ({'model': 'nanobanana', 'google_search': True}, 'google_search', 'grounding'),
    ({'model': 'nanobanana-pro', 'reference_image_urls': [f'https://r.example/{n}' for n in range(9)]},
     'reference_image_urls', 'at most 8'),
])
async def test_generate_refuses_what_the_model_does_not_offer(user: User, body: dict[str, object], field: str,
                                                              text: str) -> None:
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', json={'prompt': 'a harbour at dawn', **body})
    error = error_of(r, 422)
    assert error['field'] == field and text in error['message'], error
    assert await prompt_count() == 0
