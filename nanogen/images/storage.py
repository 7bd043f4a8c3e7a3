"""Where image bytes live: the Storage protocol, a local-disk store and an S3/R2 store.

`python -m nanogen.images.migrate --help` copies a local image library into S3/R2.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import quote

from nanogen import pools
from nanogen.errors import NotFound, StorageError

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)
T = TypeVar('T')

DEFAULT_CACHE_CONTROL = 'private, max-age=31536000, immutable'
CONTENT_TYPES = {'png': 'image/png', 'jpg': 'image/jpeg', 'jpeg': 'image/jpeg', 'webp': 'image/webp',
                 'gif': 'image/gif'}
VARIANTS = ('image', 'original', 'thumb')
MAX_KEY_LENGTH = 512  # images.key column width
_KEY_SEGMENT = re.compile(r'[A-Za-z0-9._-]+')
_TEMP_SUFFIX = '.partial'



class Storage(Protocol):
    """What the app needs from an object store; keys come from `object_key`."""

    name: str  # 'local' or 's3'

    async def put(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str = DEFAULT_CACHE_CONTROL) -> None: ...
    async def get(self, key: str) -> bytes: ...  # NotFound when missing
    async def delete(self, key: str) -> None: ...  # missing is fine
    async def exists(self, key: str) -> bool: ...
    async def presigned_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str | None: ...
    def public_url(self, key: str) -> str | None: ...
    async def ping(self) -> None: ...  # StorageError when unreachable
    async def list_keys(self, prefix: str) -> list[str]: ...


def object_key(user_id: int, prompt_id: int, position: int, variant: str, ext: str, *, attempt: int = 1) -> str:
    """'users/<user>/<prompt>/<n>.<ext>'; '<n>.orig.<ext>' for the original; '<n>.thumb.webp' for the thumbnail.

    A retried finish attempt (`attempt` > 1) stores under '<n>-a<attempt>...', so it can never overwrite (or, when it
    loses, delete) the objects of another attempt of the same prompt.

    Thumbnails are always WebP whatever `ext` says (it is still checked), so callers can pass one ext.
    """
    for name, value, low in (('user_id', user_id, 1), ('prompt_id', prompt_id, 1), ('position', position, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f'{name} must be an int >= {low}, not {value!r}')
    ext = ext.lower().lstrip('.')
    if ext not in CONTENT_TYPES:
        raise ValueError(f'extension {ext!r} is not one of {sorted(CONTENT_TYPES)}')
    if not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f'attempt must be an int >= 1, not {attempt!r}')
    base = f'users/{user_id}/{prompt_id}/{position}' + (f'-a{attempt}' if attempt > 1 else '')
    if variant == 'image':
        return f'{base}.{ext}'
    if variant == 'original':
        return f'{base}.orig.{ext}'
    if variant == 'thumb':
        return f'{base}.thumb.webp'
    raise ValueError(f'variant must be one of {VARIANTS}, not {variant!r}')


def content_type_for(key: str) -> str:
    """The content type a key's extension stands for; octet-stream when unknown."""
    return CONTENT_TYPES.get(key.rsplit('.', 1)[-1].lower(), 'application/octet-stream')


def check_key(key: str) -> str:
    """`key` if it is a plain relative path of safe segments; ValueError otherwise (no '..', no '/x')."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f'bad storage key {key!r}')
    segments = key.split('/')
    if any(s in ('', '.', '..') or not _KEY_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f'bad storage key {key!r}')
    return key


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition value that is safe whatever the name holds (quotes, slashes, non-ASCII)."""
    name = re.sub(r'[\x00-\x1f\x7f"\\/]+', '_', filename).strip() or 'image'
    ascii_name = name.encode('ascii', 'replace').decode('ascii').replace('?', '_')
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


# ---------------------------------------------------------------- local disk

class LocalStorage:
    """Files under `root/<key>`; writes are atomic, so a reader never sees half an image."""

    name = 'local'

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path_for(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # resolve() follows symlinks, so this also refuses a link inside root that points outside it.
        if not path.is_relative_to(self.root) or path == self.root:
            raise ValueError(f'storage key {key!r} escapes the storage root')
        return path

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # the bytes are on disk before the name points at them
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def put(self, key: str, data: bytes, *, content_type: str,
                  cache_control: str = DEFAULT_CACHE_CONTROL) -> None:
        # Content type and caching come from the serving route, not the file. The key's path is resolved in the
        # storage thread too: resolve() is a syscall per folder, and the loop must not wait on the disk.
        try:
            await pools.in_storage(lambda: self._write(self.path_for(key), data))
        except OSError as exc:
            raise StorageError('The image could not be saved.', detail=f'local put {key}: {exc}') from exc

    async def get(self, key: str) -> bytes:
        try:
            return await pools.in_storage(lambda: self.path_for(key).read_bytes())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound('The image was not found.', detail=f'local get {key}') from None
        except OSError as exc:
            raise StorageError('The image could not be read.', detail=f'local get {key}: {exc}') from exc

    async def delete(self, key: str) -> None:
        try:
            await pools.in_storage(lambda: self.path_for(key).unlink(missing_ok=True))
        except OSError as exc:
            raise StorageError('The image could not be deleted.', detail=f'local delete {key}: {exc}') from exc

    async def exists(self, key: str) -> bool:
        return await pools.in_storage(lambda: self.path_for(key).is_file())

    async def presigned_url(self, key: str, *, expires_s: int, filename: str | None = None) -> str | None:
        return None  # the app streams local files through its guarded route

    def public_url(self, key: str) -> str | None:
        return None

    async def ping(self) -> None:
        def check() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK):
                raise PermissionError(f'{self.root} is not writable')
        try:
            await pools.in_storage(check)
        except OSError as exc:
            raise StorageError('The image folder is not usable.', detail=str(exc)) from exc

    def _walk(self, prefix: str) -> list[str]:
        # Start at the deepest folder the prefix names, instead of walking the whole library.
        base = self.root.joinpath(*prefix.split('/')[:-1]) if '/' in prefix else self.root
        keys = []
        for folder, _dirs, files in os.walk(base):
            for file in files:
                if file.startswith('.') and file.endswith(_TEMP_SUFFIX):
                    continue  # a write in progress (or one interrupted by a crash)
                key = Path(folder, file).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def list_keys(self, prefix: str) -> list[str]:
        if '..' in prefix.split('/') or prefix.startswith('/'):
            raise ValueError(f'bad key prefix {prefix!r}')
        return await pools.in_storage(self._walk, prefix)


# ---------------------------------------------------------------- S3 / R2
