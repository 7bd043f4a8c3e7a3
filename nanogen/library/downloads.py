"""Zip downloads of a user's images (gallery, board): the chosen ids parsed and checked, then one streamed zip."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from sqlmodel import Session

from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.images.storage import Storage
from nanogen.library.files import file_ref
from nanogen.library.queries import own_images
from nanogen.models import Image
from nanogen.zips import ZipMember, started, stream_zip

log = logging.getLogger(__name__)
ZIP_MAX_IMAGES = 100


def parse_ids(raw: str, *, limit: int = ZIP_MAX_IMAGES) -> list[int]:
    """'1,2,3' -> [1, 2, 3] (order kept, duplicates dropped); InvalidInput says what is wrong."""
    parts = [p.strip() for p in (raw or '').split(',') if p.strip()]
    if not parts:
        raise InvalidInput('Choose at least one image.', field='ids')
    ids: list[int] = []
    for part in parts:
        if not part.isdigit() or len(part) > 12:
            raise InvalidInput(f'"{part[:20]}" is not an image id: use numbers separated by commas.', field='ids')
        if int(part) not in ids:
            ids.append(int(part))
    if len(ids) > limit:
        raise InvalidInput(f'A zip holds at most {limit} images; you chose {len(ids)}.', field='ids')
    return ids


async def build_zip(db: Database, storage: Storage, user_id: int, image_ids: list[int]) -> AsyncIterator[bytes]:
    """The chosen images (the viewer's own only) as a streamed zip, each read from storage when its turn comes.
    One foreign or missing id refuses the lot, with the same 404 as any unknown id, before any byte is sent;
    so does a store that cannot give the first image."""
    if not image_ids:
        raise InvalidInput('Choose at least one image.', field='ids')
    if len(image_ids) > ZIP_MAX_IMAGES:
        raise InvalidInput(f'A zip holds at most {ZIP_MAX_IMAGES} images; you chose {len(image_ids)}.',
                           field='ids')

    def find(s: Session) -> list[Image]:
        rows = own_images(s, user_id, image_ids)
        if len(rows) != len(image_ids):
            raise NotFound('One of those images does not exist.')
        return [rows[i] for i in image_ids]
    images = await db.run(find)

    return await zip_images(storage, images, log_as=f'user {user_id}')


async def zip_images(storage: Storage, images: list[Image], *, log_as: str) -> AsyncIterator[bytes]:
    """These images as a streamed zip, each read from storage when its turn comes (unique names inside)."""
    if not images:
        raise InvalidInput('Choose at least one image.', field='ids')
    if len(images) > ZIP_MAX_IMAGES:
        raise InvalidInput(f'A zip holds at most {ZIP_MAX_IMAGES} images; you chose {len(images)}.', field='ids')

    async def members() -> AsyncIterator[ZipMember]:
        names: set[str] = set()
        for image in images:
            ref = file_ref(image, 'image')
            yield ZipMember(_unique(ref.filename, names), await storage.get(ref.key))
    log.info('%s downloads %d images as a zip', log_as, len(images))
    return await started(stream_zip(members()))


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition('.')
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f'{stem}-{n}{dot}{ext}', n + 1
    taken.add(candidate)
    return candidate
