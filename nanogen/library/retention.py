"""Data retention: with NANOGEN_RETENTION_DAYS set, images older than that go (objects first, then rows)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import col

from nanogen.config import Settings
from nanogen.library.service import Library
from nanogen.models import Image, utcnow

log = logging.getLogger(__name__)


class RetentionService:
    """What retention removes; the job engine's periodic 'retention' job (bootstrap) calls `purge_once` hourly."""

    def __init__(self, *, library: Library, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.library = library
        self.settings = settings
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.settings.retention_days > 0

    async def purge_once(self) -> int:
        """Remove every image older than the retention period; returns how many went. Prompt rows stay (they hold
        the cost history). Through the library's one delete path with no undo window: hidden, then objects and rows
        go; an object that will not delete is queued in pending_deletes and its row goes anyway."""
        if not self.enabled:
            return 0
        cutoff = self.clock() - timedelta(days=self.settings.retention_days)
        removed = await self.library.deletes.delete_where(col(Image.created_at) < cutoff)
        if removed:
            log.info('retention removed %d image(s) older than %d days', removed, self.settings.retention_days)
        return removed
