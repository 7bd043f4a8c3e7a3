"""REST API: generating from uploaded reference images (multipart): checked, stored privately, never orphaned."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from nicegui.testing import User
from PIL import Image as PILImage

from nanogen.models import Prompt
from tests.integration.api_support import api_user, app_services, error_of, prompt_count

URL = '/api/v1/images/generate/upload'


def png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    PILImage.new('RGB', (width, height), (200, 40, 40)).save(out, format='PNG')
    return out.getvalue()


def stored_refs(data_dir: Path) -> list[Path]:
    return sorted(data_dir.rglob('refs/*.png'))


async def test_uploaded_references_are_stored_and_passed_as_urls(user: User, isolated_env: Path) -> None:
    api = await api_user(user)
    files = [('reference_images', ('a.png', png(), 'image/png')), ('reference_images', ('b.png', png(), 'image/png'))]
    r = await api.client.post(URL, params={'wait': 20}, files=files, timeout=30,
                              data={'prompt': 'make it blue', 'size': '512', 'aspect_ratio': '4:3'})
    assert r.status_code == 201, r.text
    data = r.json()['data']
    assert data['task_type'] == 'IMAGE_TO_IMAGE' and data['status'] == 'COMPLETED' and data['image_size'] == 512
    assert len(stored_refs(isolated_env)) == 2
    row = await app_services().db.run(lambda s: s.get(Prompt, data['id']))
    urls = json.loads(row.reference_urls)
    assert len(urls) == 2 and all(u.startswith('http') and '/refs/' in u for u in urls)


@pytest.mark.parametrize(('files', 'data', 'status', 'field'), [
    ([('reference_images', ('x.png', b'not an image at all', 'image/png'))], {'prompt': 'make it blue'}, 422,
     'reference_images'),
    ([('reference_images', ('x.png', png(), 'image/png'))] * 5, {'prompt': 'make it blue'}, 422, 'reference_images'),
    ([('unrelated', ('a.txt', b'x', 'text/plain'))], {'prompt': 'make it blue'}, 422, 'reference_images'),
    ([('reference_images', ('x.png', png(), 'image/png'))], {}, 422, 'prompt'),
    ([('reference_images', ('x.png', png(), 'image/png'))], {'prompt': 'make it blue', 'size': '999'}, 422, 'size'),
    ([('reference_images', ('x.png', png(), 'image/png'))], {'prompt': 'make it blue', 'num_images': 'two'}, 422,
     'num_images'),
    ([('reference_images', ('x.png', png(), 'image/png'))], {'prompt': 'ab'}, 422, 'prompt'),
])
async def test_each_bad_upload_is_422_naming_the_field_and_leaves_nothing_stored(
        user: User, isolated_env: Path, files: list, data: dict, status: int, field: str) -> None:
    api = await api_user(user)
    r = await api.client.post(URL, files=files, data=data)
    error = error_of(r, status)
    assert error['field'] == field, error
    assert stored_refs(isolated_env) == [] and await prompt_count() == 0


async def test_an_upload_over_20_mib_is_413(user: User, isolated_env: Path) -> None:
    api = await api_user(user)
    big = b'\0' * (20 * 1024 * 1024 + 1)
    r = await api.client.post(URL, files=[('reference_images', ('big.png', big, 'image/png'))],
                              data={'prompt': 'make it blue'})
    assert error_of(r, 413)['code'] == 'payload_too_large'
    assert stored_refs(isolated_env) == [] and await prompt_count() == 0
