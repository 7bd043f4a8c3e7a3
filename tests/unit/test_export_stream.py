"""The admin's user export streams: files are read from storage one at a time, as the zip reaches them."""

from __future__ import annotations

import io
import json
import os
import zipfile

from nanogen.errors import NotFound
from nanogen.models import Image, Prompt, User
from nanogen.ops.export import export_zip

FILE_BYTES = 20_000
IMAGES = 40  # two files each: 1.6 MB in all


class MeteredStorage:
    """An in-memory store that tracks how many bytes it handed out that the download has not yet received."""

    name = 'memory'

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.fetched = 0
        self.delivered = 0
        self.peak_buffered = 0

    async def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise NotFound('no such object')
        data = self.objects[key]
        self.fetched += len(data)
        self.peak_buffered = max(self.peak_buffered, self.fetched - self.delivered)
        return data


async def test_export_of_many_images_buffers_about_one_file_at_a_time() -> None:
    """Issue 13 finding (the admin export held a whole library in memory twice): the export is a stream, so at
    no point has it read much more from storage than it has already sent."""
    user = User(id=7, subject='local:ada@example.com', email='ada@example.com', name='Ada')
    images = [Image(id=i + 1, user_id=7, prompt_id=i + 1, position=0, key=f'users/7/{i}.png',
                    original_key=f'users/7/{i}-original.png', thumb_key=f'users/7/{i}.webp') for i in range(IMAGES)]
    prompts = [Prompt(id=i + 1, user_id=7, prompt=f'robot {i}') for i in range(IMAGES)]
    objects = {k: os.urandom(FILE_BYTES) for im in images for k in (im.key, im.original_key)}
    del objects[images[3].original_key]  # one file the store lost: listed, not fatal
    storage = MeteredStorage(objects)

    received = bytearray()
    async for chunk in export_zip(storage, user, prompts, images):  # type: ignore[arg-type]
        storage.delivered += len(chunk)
        received += chunk

    assert storage.fetched == FILE_BYTES * (2 * IMAGES - 1)
    assert storage.peak_buffered <= 2 * FILE_BYTES  # the old export read all 1.6 MB before sending a byte
    with zipfile.ZipFile(io.BytesIO(bytes(received))) as zf:
        manifest = json.loads(zf.read('nanogen.json'))
        assert manifest['missing_files'] == ['images/4-1-original.png']
        assert [p['prompt'] for p in manifest['prompts']][:2] == ['robot 0', 'robot 1']
        assert zf.read('images/1-1.png') == objects[images[0].key]
        assert zf.read('images/40-1-original.png') == objects[images[-1].original_key]
        assert len(zf.namelist()) == 2 * IMAGES - 1 + 1
