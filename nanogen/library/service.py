"""A user's library: reading their prompts and images, serving files to their owner, deleting, tokens."""

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
from nanogen.models import Image, PendingDelete, Prompt

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
    """Other services' periodic clean-ups, run by the library's purge loop (e.g. the gallery's soft-deleted images).

    Built before both: the library runs them, and a service that needs the library (the gallery) adds its sweep in
    its own constructor, which breaks the library <-> gallery cycle without setting attributes after construction."""

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

    async def start(self) -> None:
        self._task = asyncio.create_task(self._purge_loop(), name='library-purge')

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

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
            rows = s.exec(select(Prompt).where(Prompt.user_id == user_id, col(Prompt.id).in_(ids)))
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
                    select(Image.prompt_id, Image.id).where(col(Image.prompt_id).in_(ids), Image.user_id == user_id,
                                                            col(Image.deleted_at).is_(None))
                    .order_by(col(Image.prompt_id), col(Image.position))):
                found.setdefault(prompt_id, []).append(image_id)
            return found
        return await self.db.run(work)

    async def images_of_prompt(self, user_id: int, prompt_id: int) -> list[Image]:
        def work(s: Session) -> list[Image]:
            return list(s.exec(select(Image).where(Image.prompt_id == prompt_id, Image.user_id == user_id,
                                                   col(Image.deleted_at).is_(None))
                               .order_by(col(Image.position))))
        return await self.db.run(work)

    async def recent_prompts(self, user_id: int, *, limit: int = 20, unfinished_only: bool = False) -> list[Prompt]:
        def work(s: Session) -> list[Prompt]:
            q = select(Prompt).where(Prompt.user_id == user_id)
            if unfinished_only:
                q = q.where(col(Prompt.status).in_(('PENDING', 'PROCESSING')))
            return list(s.exec(q.order_by(col(Prompt.created_at).desc(), col(Prompt.id).desc()).limit(limit)))
        return await self.db.run(work)

    async def get_image(self, user_id: int, image_id: int) -> Image:
        image = await self.db.run(lambda s: s.get(Image, image_id))
        if image is None or image.user_id != user_id or image.deleted_at is not None:
            raise NotFound('That image does not exist.')
        return image

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

    # ------------------------------------------------------------------ deleting
    async def delete_image(self, user_id: int, image_id: int) -> None:
        """Remove the image's objects and its row; an object that will not go is remembered and retried."""
        image = await self.get_image(user_id, image_id)
        await self.purge(image)

    async def purge(self, image: Image) -> None:
        """Objects, then the row, whatever state the row is in (soft-deleted images end here too)."""
        await delete_objects(self.db, self.storage, [image.key, image.original_key, image.thumb_key])

        def work(s: Session) -> None:
            row = s.get(Image, image.id)
            if row is not None:
                s.delete(row)
                s.commit()
        await self.db.write(work)
        log.info('image %s of prompt %s deleted', image.id, image.prompt_id)

    async def retry_pending_deletes(self) -> int:
        pending = await self.db.run(lambda s: list(s.exec(select(PendingDelete).limit(200))))
        done = 0
        for row in pending:
            try:
                await self.storage.delete(row.key)
            except StorageError as exc:
                def bump(s: Session, rid: Any = row.id, message: str = exc.user_message) -> None:
                    r = s.get(PendingDelete, rid)
                    if r:
                        r.attempts += 1
                        r.last_error = message[:500]
                        s.add(r)
                        s.commit()
                await self.db.write(bump)
                continue

            def forget(s: Session, rid: Any = row.id) -> None:
                r = s.get(PendingDelete, rid)
                if r:
                    s.delete(r)
                    s.commit()
            await self.db.write(forget)
            done += 1
        return done

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


async def delete_objects(db: Database, storage: Storage, keys: Iterable[str]) -> None:
    """Delete objects; one that will not go is queued in pending_deletes, which the library's sweep retries."""
    for key in keys:
        try:
            await storage.delete(key)
        except StorageError as exc:
            log.warning('delete of an object failed; queued for retry: %s', exc.user_message)
            message = exc.user_message

            def remember(s: Session, key: str = key) -> None:
                if s.exec(select(PendingDelete).where(PendingDelete.key == key)).first() is None:
                    s.add(PendingDelete(key=key, last_error=message[:500]))
                    s.commit()
            await db.write(remember)


def file_ref(image: Image, variant: str) -> FileRef:
    key = {'image': image.key, 'original': image.original_key, 'thumb': image.thumb_key}[variant]
    ctype = {'image': image.content_type, 'thumb': 'image/webp'}.get(variant) or _type_from_key(key)
    ext = key.rsplit('.', 1)[-1]
    suffix = '' if variant == 'image' else f'-{variant}'
    return FileRef(key=key, content_type=ctype, filename=f'nanogen-{image.prompt_id}-{image.position + 1}{suffix}.{ext}',
                   etag=f'"{image.sha256[:32]}-{variant}"')


def _type_from_key(key: str) -> str:
    ext = key.rsplit('.', 1)[-1].lower()
    return {'png': 'image/png', 'jpg': 'image/jpeg', 'jpeg': 'image/jpeg', 'webp': 'image/webp',
            'gif': 'image/gif'}.get(ext, 'application/octet-stream')
