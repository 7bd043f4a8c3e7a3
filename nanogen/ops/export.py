"""An admin's export of one user's data: a streamed zip of their images and a JSON manifest of everything."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from nanogen.errors import NotFound, StorageError
from nanogen.images.storage import Storage
from nanogen.models import Image, Prompt, User
from nanogen.zips import ZipMember, stream_zip

log = logging.getLogger(__name__)
PROMPT_FIELDS = ('id', 'prompt', 'task_type', 'image_size', 'aspect_ratio', 'num_images', 'watermark', 'model',
                 'status', 'error_message', 'estimated_cost', 'cost', 'duration_ms', 'created_at', 'completed_at')


def file_names(image: Image) -> list[tuple[str, str]]:
    """(zip name, storage key) of the image's files: the shown image and the original."""
    return [(f'images/{image.prompt_id}-{image.position + 1}{"-original" if key != image.key else ""}.'
             f'{key.rsplit(".", 1)[-1]}', key) for key in (image.key, image.original_key)]


def manifest(user: User, prompts: list[Prompt], images: list[Image], missing: list[str]) -> dict[str, Any]:
    return {
        'user': {'id': user.id, 'email': user.email, 'name': user.name, 'created_at': user.created_at},
        'prompts': [{k: getattr(p, k) for k in PROMPT_FIELDS} for p in prompts],
        'images': [{'id': i.id, 'prompt_id': i.prompt_id, 'position': i.position, 'width': i.width,
                    'height': i.height, 'created_at': i.created_at} for i in images],
        'missing_files': missing,
    }


def export_zip(storage: Storage, user: User, prompts: list[Prompt], images: list[Image]) -> AsyncIterator[bytes]:
    """The zip, streamed: each file is read from storage when its turn comes. A file the store cannot give is
    listed in the manifest's missing_files, so the manifest (nanogen.json) comes last."""
    async def members() -> AsyncIterator[ZipMember]:
        missing: list[str] = []
        for image in images:
            for name, key in file_names(image):
                try:
                    # No local name for the bytes: the previous file must be free before the next read.
                    yield ZipMember(name, await storage.get(key))
                except (NotFound, StorageError):
                    missing.append(name)
        if missing:
            log.warning('export of user %s: %d file(s) missing from the store', user.id, len(missing))
        body = json.dumps(manifest(user, prompts, images, missing), default=str, indent=2)
        yield ZipMember('nanogen.json', body.encode(), compress=True)
    return stream_zip(members())
