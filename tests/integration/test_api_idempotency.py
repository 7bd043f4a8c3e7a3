"""Idempotency-Key: a retry of the same request replays; the same key with any other body is 409."""

from __future__ import annotations

import io

import pytest
from nicegui.testing import User
from PIL import Image as PILImage

from tests.integration.api_support import api_user, error_of, prompt_count

BASE = {'prompt': 'a lighthouse at dawn', 'size': 512, 'aspect_ratio': '1:1', 'num_images': 1}


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    PILImage.new('RGB', (32, 32), colour).save(out, format='PNG')
    return out.getvalue()


@pytest.mark.parametrize('change', [{'watermark': 'ACME'}, {'num_images': 2}, {'size': 1024},
                                    {'reference_image_urls': ['https://img.example/a.png']}])
async def test_the_same_key_with_a_different_json_body_is_409(user: User, change: dict) -> None:
    """Issue 11 finding 15: watermark, references, size, count: any difference is a different request."""
    api = await api_user(user)
    headers = {'Idempotency-Key': 'batch-7'}
    first = await api.client.post('/api/v1/images/generate', json=BASE, headers=headers)
    assert first.status_code == 202, first.text
    replay = await api.client.post('/api/v1/images/generate', json=BASE, headers=headers)
    assert replay.status_code == 200 and replay.headers['Idempotent-Replayed'] == 'true'
    assert replay.json()['data']['id'] == first.json()['data']['id']
    r = await api.client.post('/api/v1/images/generate', json={**BASE, **change}, headers=headers)
    assert error_of(r, 409)['code'] == 'conflict'
    assert await prompt_count() == 1


async def test_the_same_key_with_different_uploaded_references_is_409(user: User) -> None:
    """Issue 11 finding 15: uploads are compared by content, not by their (new on every call) storage URLs."""
    api = await api_user(user)
    headers = {'Idempotency-Key': 'refs-1'}
    form = {'prompt': 'make it blue', 'size': '512'}

    def files(colour: tuple[int, int, int]) -> list:
        return [('reference_images', ('a.png', png(colour), 'image/png'))]
    first = await api.client.post('/api/v1/images/generate/upload', files=files((200, 0, 0)), data=form,
                                  headers=headers)
    assert first.status_code == 202, first.text
    same = await api.client.post('/api/v1/images/generate/upload', files=files((200, 0, 0)), data=form,
                                 headers=headers)
    assert same.status_code == 200 and same.headers['Idempotent-Replayed'] == 'true'
    other = await api.client.post('/api/v1/images/generate/upload', files=files((0, 0, 200)), data=form,
                                  headers=headers)
    assert error_of(other, 409)['code'] == 'conflict'
    marked = await api.client.post('/api/v1/images/generate/upload', files=files((200, 0, 0)),
                                   data={**form, 'watermark': 'ACME'}, headers=headers)
    assert error_of(marked, 409)['code'] == 'conflict'
    assert await prompt_count() == 1


@pytest.mark.parametrize(('field', 'value'), [('num_images', True), ('num_images', 2.0), ('size', 512.0),
                                              ('size', '512'), ('prompt', 123)])
async def test_json_numbers_are_strict(user: User, field: str, value: object) -> None:
    """Issue 11 finding 15: `num_images: true` / `2.0` (and sizes as floats or text) are 422, not coerced."""
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate', json={**BASE, field: value})
    assert error_of(r, 422)['field'] == field
    assert await prompt_count() == 0


@pytest.mark.parametrize(('field', 'value'), [('num_images', '2.0'), ('num_images', 'true'), ('size', '512.0'),
                                              ('num_images', '\u0662')])
async def test_multipart_numbers_are_whole_ascii_numbers(user: User, field: str, value: str) -> None:
    """Issue 11 finding 15: the multipart form is as strict: '2.0' or 'true' is 422."""
    api = await api_user(user)
    r = await api.client.post('/api/v1/images/generate/upload', data={'prompt': 'make it blue', field: value},
                              files=[('reference_images', ('a.png', png((1, 2, 3)), 'image/png'))])
    assert error_of(r, 422)['field'] == field
    assert await prompt_count() == 0
