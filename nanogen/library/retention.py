"""Data retention: with NANOGEN_RETENTION_DAYS set, images older than that go (objects first, then rows)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.images.storage import Storage
from nanogen.library.service import delete_objects
from nanogen.models import Image, Prompt, utcnow

log = logging.getLogger(__name__)
BATCH = 200


class RetentionService:
    def __init__(self, *, db: Database, storage: Storage, settings: Settings,
                 clock: Callable[[], datetime] = utcnow, interval_s: float = 3600.0) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.retention_days > 0

    async def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._loop(), name='retention')

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def purge_once(self) -> int:
        """Remove every image older than the retention period; returns how many went. Prompt rows stay (they hold
        the cost history). An object that will not delete is queued in pending_deletes; its row goes anyway."""
        if not self.enabled:
            return 0
        cutoff = self.clock() - timedelta(days=self.settings.retention_days)
        removed = 0
        while True:
            batch = await self.db.run(lambda s: list(s.exec(
                select(Image).where(Image.created_at < cutoff).order_by(col(Image.id)).limit(BATCH))))
            if not batch:
                break
            for image in batch:
                await delete_objects(self.db, self.storage, (image.key, image.original_key, image.thumb_key))
            ids = [i.id for i in batch]

            def remove(s: Session) -> None:
                s.execute(sa.update(Prompt).where(col(Prompt.image_id).in_(ids)).values(image_id=None))
                s.execute(sa.delete(Image).where(col(Image.id).in_(ids)))
                s.commit()
            await self.db.write(remove)
            removed += len(batch)
        if removed:
            log.info('retention removed %d image(s) older than %d days', removed, self.settings.retention_days)
        return removed

    async def _loop(self) -> None:
        while True:
            try:
                await self.purge_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database or store may be briefly away: next round
                log.warning('retention round failed; will retry', exc_info=True)
            await asyncio.sleep(self.interval_s)
