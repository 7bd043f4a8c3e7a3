"""A user's library: reading their prompts and images, serving files to their owner, and the one delete path.

Deleting (gallery, API, retention, admin) always goes through `Library.delete_images` / `Deletes`: the image is
hidden from every reader at once and purged (objects, then rows) when its undo window is over; see
nanogen.library.deletes for each caller's window and undo.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import NotFound, StorageError
from nanogen.images.storage import Storage
from nanogen.library.deletes import Deleted, Deletes, delete_objects
from nanogen.library.queries import own_image
from nanogen.models import Image, Prompt

log = logging.getLogger(__name__)
VARIANTS = ('image', 'original', 'thumb')


@dataclass(frozen=True)
class FileRef:
    key: str
    content_type: str
    filename: str
    etag: str


Sweep = Callable[[], Awaitable[Any]]


class Sweeps:
    """The periodic clean-ups the library's loop runs: its own purge of deleted images whose window is over, and
    any another service adds (built outside so a service made before the library can hand its sweep in)."""

    def __init__(self) -> None:
        self._sweeps: list[Sweep] = []

    def add(self, sweep: Sweep) -> None:
        self._sweeps.append(sweep)

    def __iter__(self) -> Iterator[Sweep]:
        return iter(list(self._sweeps))

    def __contains__(self, sweep: object) -> bool:
        return sweep in self._sweeps


class Library:
    def __init__(self, *, db: Database, storage: Storage, settings: Settings, secret_key: str,
                 sweeps: Sweeps | None = None) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.secret_key = secret_key
        self._task: asyncio.Task[None] | None = None
        self.sweeps = sweeps if sweeps is not None else Sweeps()
        self.deletes = Deletes(db=db, storage=storage)
        self.sweeps.add(self.purge_deleted)  # deleted images go even if their timer died in a restart

    async def start(self) -> None:
        self._task = asyncio.create_task(self._purge_loop(), name='library-purge')

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.deletes.stop()

    # ------------------------------------------------------------------ reading
    async def get_prompt(self, user_id: int, prompt_id: int) -> Prompt:
        prompt = await self.db.run(lambda s: s.get(Prompt, prompt_id))
        if prompt is None or prompt.user_id != user_id:
            raise NotFound('That generation does not exist.')
        return prompt

    async def prompts_by_id(self, user_id: int, prompt_ids: Iterable[int]) -> dict[int, Prompt]:
        """This user's prompts among `prompt_ids` in one read (another user's or missing ids are left out)."""
        ids = list(set(prompt_ids))
        if not ids:
            return {}

        def work(s: Session) -> dict[int, Prompt]:
            rows = s.exec(select(Prompt).where(col(Prompt.user_id) == user_id, col(Prompt.id).in_(ids)))
            return {p.id: p for p in rows if p.id is not None}
        return await self.db.run(work)

    async def image_ids_of_prompts(self, user_id: int, prompt_ids: Iterable[int]) -> dict[int, list[int]]:
        """The live image ids of each of these prompts of this user, in position order, in one read."""
        ids = list(set(prompt_ids))
        if not ids:
            return {}

        def work(s: Session) -> dict[int, list[int]]:
            found: dict[int, list[int]] = {}
            for prompt_id, image_id in s.exec(
                    select(Image.prompt_id, Image.id).where(col(Image.prompt_id).in_(ids), col(Image.user_id) == user_id,
                                                            col(Image.deleted_at).is_(None))
                    .order_by(col(Image.prompt_id), col(Image.position))):
                found.setdefault(prompt_id, []).append(int(image_id or 0))
            return found
        return await self.db.run(work)

    async def images_of_prompt(self, user_id: int, prompt_id: int) -> list[Image]:
        def work(s: Session) -> list[Image]:
            return list(s.exec(select(Image).where(col(Image.prompt_id) == prompt_id, col(Image.user_id) == user_id,
                                                   col(Image.deleted_at).is_(None))
                               .order_by(col(Image.position))))
        return await self.db.run(work)

    async def recent_prompts(self, user_id: int, *, limit: int = 20, unfinished_only: bool = False) -> list[Prompt]:
        def work(s: Session) -> list[Prompt]:
            q = select(Prompt).where(col(Prompt.user_id) == user_id)
            if unfinished_only:
                q = q.where(col(Prompt.status).in_(('PENDING', 'PROCESSING')))
            return list(s.exec(q.order_by(col(Prompt.created_at).desc(), col(Prompt.id).desc()).limit(limit)))
        return await self.db.run(work)

    async def get_image(self, user_id: int, image_id: int) -> Image:
        return await self.db.run(lambda s: own_image(s, user_id, image_id))

    async def file_for(self, user_id: int, image_id: int, variant: str) -> FileRef:
        """The object behind an image, for its owner only; anyone else gets the same NotFound as a missing id."""
        if variant not in VARIANTS:
            raise NotFound('No such file.')
        image = await self.get_image(user_id, image_id)
        return file_ref(image, variant)

    async def read(self, ref: FileRef) -> bytes:
        return await self.storage.get(ref.key)

    async def url_for(self, ref: FileRef, *, download: bool = False) -> str | None:
        """A short-lived presigned URL when the store can make one; None means: serve it through the app."""
        return await self.storage.presigned_url(ref.key, expires_s=self.settings.presign_expiry_s,
                                                filename=ref.filename if download else None)

    # ------------------------------------------------------------------ deleting (see nanogen.library.deletes)
    async def delete_images(self, user_id: int, image_ids: Iterable[int], *,
                            undo_window_s: float | None = None) -> Deleted:
        """The one delete path: hidden from every reader at once, purged after the window (default: the
        settings' undo window; 0 purges before returning). NotFound if any id is not the user's live image.
        The loop's sweep purges hidden rows older than the settings' window, so a longer window is cut to it."""
        window = self.settings.undo_window_s if undo_window_s is None else undo_window_s
        return await self.deletes.delete_images(user_id, image_ids, undo_window_s=window)

    async def restore_images(self, user_id: int, image_ids: Iterable[int]) -> list[int]:
        """Undo a delete still inside its window; returns the ids brought back."""
        return await self.deletes.restore(user_id, image_ids)

    async def delete_image(self, user_id: int, image_id: int) -> None:
        """Delete one image now, no undo (objects, then the row)."""
        await self.delete_images(user_id, [image_id], undo_window_s=0)

    async def purge_deleted(self, *, ids: Iterable[int] | None = None) -> int:
        """Purge the deleted images whose undo window is over (the loop runs this; so does each delete's timer)."""
        return await self.deletes.purge_deleted(window_s=self.settings.undo_window_s, ids=ids)

    async def retry_pending_deletes(self) -> int:
        return await self.deletes.retry_pending_deletes()

    async def delete_all_of(self, user_id: int) -> int:
        """Every image of the user through the one path, no undo; then any object left under their prefix (a
        result whose rows never came). Returns how many objects went, as far as known."""
        images = await self.deletes.delete_where(col(Image.user_id) == user_id)
        try:
            stray = await self.storage.list_keys(f'users/{user_id}/')
        except StorageError:
            log.warning('could not list the objects of user %s; deleted the known ones', user_id)
            stray = []
        await delete_objects(self.db, self.storage, stray)
        return 3 * images + len(stray)

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(60)
            try:
                await self.retry_pending_deletes()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning('pending-delete retry round failed', exc_info=True)
            for sweep in self.sweeps:
                try:
                    await sweep()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning('sweep %s failed', getattr(sweep, '__qualname__', sweep), exc_info=True)



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
