"""The generation service's writes to prompt rows: each a single committed transaction under the write lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, overload

from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.errors import NotFound
from nanogen.generation.results import Keys
from nanogen.images.pipeline import ProcessedImage
from nanogen.models import Image, Prompt, Status


class PromptRows:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    async def status(self, pid: int) -> str | None:
        return await self.db.run(lambda s: s.exec(select(Prompt.status).where(col(Prompt.id) == pid)).first())

    @overload
    async def update(self, pid: int, *, expect_status: None = None, **values: Any) -> Prompt: ...
    @overload
    async def update(self, pid: int, *, expect_status: str, **values: Any) -> Prompt | None: ...

    async def update(self, pid: int, *, expect_status: str | None = None, **values: Any) -> Prompt | None:
        """Set columns on a prompt; with `expect_status`, only if it still has that status (else None)."""
        def work(s: Session) -> Prompt | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None:
                raise NotFound('That generation does not exist.')
            if expect_status is not None and row.status != expect_status:
                return None
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = self.clock()
            s.add(row)
            s.commit()
            return row
        return await self.db.write(work)

    async def fail(self, pid: int, message: str, *, billed: bool = False) -> Prompt | None:
        """End an unfinished prompt FAILED with a message; None when it had already ended."""
        def work(s: Session) -> Prompt | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None or Status(row.status).finished:
                return None
            now = self.clock()
            row.status = Status.FAILED.value
            row.error_message = message
            row.cost = row.estimated_cost if billed else Decimal(0)
            row.completed_at = row.updated_at = now
            row.duration_ms = int((now - row.created_at).total_seconds() * 1000)
            row.lease_owner = None
            s.add(row)
            s.commit()
            return row
        return await self.db.write(work)

    async def complete(self, pid: int, processed: list[ProcessedImage], keys: list[Keys],
                       price_for: Callable[[int, str], Decimal]) -> tuple[Prompt, tuple[int, ...]] | None:
        """Record the stored images and end the prompt COMPLETED; None when it is no longer PROCESSING (cancelled)."""
        def save(s: Session) -> tuple[Prompt, tuple[int, ...]] | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None or row.status != Status.PROCESSING.value:
                return None
            images = [Image(user_id=row.user_id, prompt_id=pid, position=n, key=k[0], original_key=k[1],
                            thumb_key=k[2], content_type=p.content_type, width=p.width, height=p.height,
                            size_bytes=len(p.image), sha256=p.sha256) for n, (p, k) in enumerate(zip(processed, keys, strict=True))]
            s.add_all(images)
            s.flush()
            now = self.clock()
            row.image_id = images[0].id
            row.status = Status.COMPLETED.value
            row.cost = price_for(row.image_size, row.model) * len(images)
            row.completed_at = row.updated_at = now
            row.duration_ms = int((now - row.created_at).total_seconds() * 1000)
            row.error_message = None
            row.lease_owner = None
            s.add(row)
            s.commit()
            return row, tuple(i.id for i in images if i.id is not None)
        return await self.db.write(save)
