"""The one way an image is deleted, whoever asks (issue 13).

Every delete is two steps, the same for every caller:

1. **Hide**: the rows get `deleted_at`; from that moment every reader (gallery, history, API, share links, zips,
   `nanogen.library.queries.own_image`) treats them as gone.
2. **Purge**, once the undo window is over: the objects (image, original, thumb) are deleted from the store, then
   the rows (prompt -> image pointers unlinked first; share links cascade). An object the store will not delete is
   queued in `pending_deletes` and retried by the engine's periodic 'pending-deletes' job; the row goes anyway.

Callers and their window:

| caller                                   | window                    | undo                               |
|------------------------------------------|---------------------------|------------------------------------|
| gallery (UI) delete                      | `NANOGEN_UNDO_WINDOW` (8s)| the toast's Undo                   |
| `DELETE /api/v1/images/{id}`             | `NANOGEN_UNDO_WINDOW`     | `POST /api/v1/images/{id}/restore` |
| `Library.delete_image` (internal)        | 0: purged before it returns | none                             |
| retention (`NANOGEN_RETENTION_DAYS`)     | 0                         | none                               |
| admin "delete user"                      | 0 (plus stray objects under the user's prefix) | none          |

The purge of a window runs on a timer, and the engine's periodic 'library-sweeps' job purges any hidden row whose
window has passed (a restart during a window loses nothing). Rows that appear while the admin's "delete user" runs go
with the user, inside its transaction (`remove_in`): their objects are queued in `pending_deletes`. Objects stored
for a result that never got rows (generation/results.py) have no row to hide: they go through `delete_objects`, the
same object step with the same retry queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.errors import StorageError
from nanogen.images.storage import Storage
from nanogen.library.queries import own_image
from nanogen.models import Image, PendingDelete, Prompt, utcnow

log = logging.getLogger(__name__)
BATCH = 200


@dataclass(frozen=True)
class Deleted:
    """What a delete did: the ids now hidden, and until when `restore` can bring them back (None: it cannot)."""

    ids: list[int]
    undo_until: datetime | None


class Deletes:
    def __init__(self, *, db: Database, storage: Storage, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.storage = storage
        self.clock = clock
        self._timers: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in list(self._timers):
            task.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)

    async def delete_images(self, user_id: int, image_ids: Iterable[int], *, undo_window_s: float) -> Deleted:
        """Hide the user's images at once (all or nothing: one foreign or missing id refuses the lot with NotFound),
        and purge them when `undo_window_s` is over; with 0 they are purged before this returns."""
        wanted = list(dict.fromkeys(image_ids))
        now = self.clock()

        def work(s: Session) -> list[int]:
            rows = [own_image(s, user_id, i) for i in wanted]
            for row in rows:
                row.deleted_at = now
                s.add(row)
            s.commit()
            return [r.id for r in rows if r.id is not None]
        ids = await self.db.write(work)
        log.info('user %s deleted images %s (undo window %.1fs)', user_id, ids, undo_window_s)
        if undo_window_s <= 0:
            await self.purge(ids)
            return Deleted(ids=ids, undo_until=None)
        self._purge_later(ids, undo_window_s)
        return Deleted(ids=ids, undo_until=now + timedelta(seconds=undo_window_s))

    async def restore(self, user_id: int, image_ids: Iterable[int]) -> list[int]:
        """Bring back the user's hidden images not yet purged; returns the ids restored (gone ones are skipped)."""
        wanted = list(dict.fromkeys(image_ids))

        def work(s: Session) -> list[int]:
            restored = []
            for row in s.exec(select(Image).where(col(Image.id).in_(wanted), col(Image.user_id) == user_id,
                                                  col(Image.deleted_at).is_not(None))):
                row.deleted_at = None
                s.add(row)
                restored.append(row.id)
            s.commit()
            return [i for i in wanted if i in restored]
        ids = await self.db.write(work)
        if len(ids) < len(wanted):
            log.warning('undo for user %s came too late for images %s', user_id, sorted(set(wanted) - set(ids)))
        return ids

    async def delete_where(self, *where: Any) -> int:
        """Hide and purge at once every image matching `where` (retention, admin): no window, no undo."""
        removed = 0
        while True:
            def hide(s: Session) -> list[int]:
                ids = list(s.exec(select(Image.id).where(*where).order_by(col(Image.id)).limit(BATCH)))
                if ids:
                    s.execute(sa.update(Image).where(col(Image.id).in_(ids)).values(deleted_at=self.clock()))
                    s.commit()
                return [i for i in ids if i is not None]
            ids = await self.db.write(hide)
            if not ids:
                return removed
            await self.purge(ids)
            removed += len(ids)

    async def purge_deleted(self, *, window_s: float, ids: Iterable[int] | None = None) -> int:
        """Purge every hidden image whose window (`window_s`, the longest any caller uses) is over."""
        cutoff = self.clock() - timedelta(seconds=window_s)
        only = list(ids) if ids is not None else None

        def find(s: Session) -> list[int]:
            q = select(Image.id).where(col(Image.deleted_at).is_not(None), col(Image.deleted_at) <= cutoff)
            if only is not None:
                q = q.where(col(Image.id).in_(only))
            return [i for i in s.exec(q.limit(500)) if i is not None]
        return await self.purge(await self.db.run(find))

    async def purge(self, image_ids: list[int]) -> int:
        """Objects, then rows, of these images if they are still hidden (a restored one is left alone)."""
        if not image_ids:
            return 0
        images = await self.db.run(lambda s: list(s.exec(select(Image).where(
            col(Image.id).in_(image_ids), col(Image.deleted_at).is_not(None)))))
        for image in images:
            await delete_objects(self.db, self.storage, (image.key, image.original_key, image.thumb_key))
        ids = [i.id for i in images]

        def remove(s: Session) -> None:
            # The prompt -> image pointer first: the two tables point at each other.
            s.execute(sa.update(Prompt).where(col(Prompt.image_id).in_(ids)).values(image_id=None))
            s.execute(sa.delete(Image).where(col(Image.id).in_(ids), col(Image.deleted_at).is_not(None)))
            s.commit()
        await self.db.write(remove)
        log.info('purged images %s', ids)
        return len(ids)

    def _purge_later(self, ids: list[int], window_s: float) -> None:
        async def later() -> None:
            # A little past the window, so the row's deleted_at is surely before the cutoff.
            await asyncio.sleep(window_s + 0.05)
            try:
                await self.purge_deleted(window_s=window_s, ids=ids)
            except Exception:  # the periodic sweep retries; a failure here loses nothing
                log.warning('purge of deleted images %s failed; the sweep will retry', ids, exc_info=True)
        task = asyncio.create_task(later(), name='library-purge-later')
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def retry_pending_deletes(self) -> int:
        """Retry objects the store would not delete before; returns how many went this time."""
        pending = await self.db.run(lambda s: list(s.exec(select(PendingDelete).limit(200))))
        done = 0
        for row in pending:
            try:
                await self.storage.delete(row.key)
            except StorageError as exc:
                await self.db.write(partial(_bump, rid=row.id, message=exc.user_message))
                continue
            await self.db.write(partial(_forget, rid=row.id))
            done += 1
        return done


def remove_in(s: Session, *where: Any) -> int:
    """Inside the caller's transaction, remove every image row matching `where` now and queue its objects in
    pending_deletes (the periodic job deletes them): for rows made while a bulk delete ran, so they go with their
    owner's rows and their objects are not left behind. Returns how many rows went."""
    images = list(s.exec(select(Image).where(*where)))
    if not images:
        return 0
    keys = list(dict.fromkeys(k for i in images for k in (i.key, i.original_key, i.thumb_key)))
    queued = set(s.exec(select(PendingDelete.key).where(col(PendingDelete.key).in_(keys))))
    for key in keys:
        if key not in queued:
            s.add(PendingDelete(key=key))
    ids = [i.id for i in images]
    s.execute(sa.update(Prompt).where(col(Prompt.image_id).in_(ids)).values(image_id=None))
    s.execute(sa.delete(Image).where(col(Image.id).in_(ids)))
    log.info('removed images %s made during a bulk delete; their objects are queued', ids)
    return len(ids)


def _bump(s: Session, rid: Any, message: str) -> None:
    row = s.get(PendingDelete, rid)
    if row:
        row.attempts += 1
        row.last_error = message[:500]
        s.add(row)
        s.commit()


def _forget(s: Session, rid: Any) -> None:
    row = s.get(PendingDelete, rid)
    if row:
        s.delete(row)
        s.commit()


async def delete_objects(db: Database, storage: Storage, keys: Iterable[str]) -> None:
    """Delete objects; one that will not go is queued in pending_deletes, which the periodic job retries."""
    for key in keys:
        try:
            await storage.delete(key)
        except StorageError as exc:
            log.warning('delete of an object failed; queued for retry: %s', exc.user_message)
            message = exc.user_message

            def remember(s: Session, key: str = key, message: str = message) -> None:
                if s.exec(select(PendingDelete).where(col(PendingDelete.key) == key)).first() is None:
                    s.add(PendingDelete(key=key, last_error=message[:500]))
                    s.commit()
            await db.write(remember)

