"""The object behind an image variant, as the library hands it to routes: key, type, download name and ETag."""

from __future__ import annotations

from dataclasses import dataclass

from nanogen.models import Image

VARIANTS = ('image', 'original', 'thumb')


@dataclass(frozen=True)
class FileRef:
    key: str
    content_type: str
    filename: str
    etag: str


def file_ref(image: Image, variant: str) -> FileRef:
    key = {'image': image.key, 'original': image.original_key, 'thumb': image.thumb_key}[variant]
    ctype = {'image': image.content_type, 'thumb': 'image/webp'}.get(variant) or _type_from_key(key)
    ext = key.rsplit('.', 1)[-1]
    suffix = '' if variant == 'image' else f'-{variant}'
    filename = f'nanogen-{image.prompt_id}-{image.position + 1}{suffix}.{ext}'
    return FileRef(key=key, content_type=ctype, filename=filename,
                   etag=f'"{image.sha256[:32]}-{variant}"')


def _type_from_key(key: str) -> str:
    ext = key.rsplit('.', 1)[-1].lower()
    return {'png': 'image/png', 'jpg': 'image/jpeg', 'jpeg': 'image/jpeg', 'webp': 'image/webp',
            'gif': 'image/gif'}.get(ext, 'application/octet-stream')
