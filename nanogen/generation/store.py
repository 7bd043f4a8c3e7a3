"""The generation steps' writes to prompt rows: each one committed transaction under the write lock, fenced by claims.

A step execution first takes the row's claim (`claim`): a fresh `claim_token`, `claimed_at` from the database's clock
(never a replica's). Every later write of that execution names its token and changes nothing when another execution
has claimed the row since (a stalled job retried elsewhere): the loser writes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, overload

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen import retrying
from nanogen.db import Database
from nanogen.errors import NotFound
from nanogen.generation.catalogue import saved_task_ids, task_estimate
from nanogen.generation.results import Keys
from nanogen.images.pipeline import ProcessedImage
from nanogen.library.versions import root_of
from nanogen.models import Image, Prompt, Status

log = logging.getLogger(__name__)
READ_BACK_BACKOFF = retrying.Backoff(0.5, 10.0)


def db_now(s: Session) -> Any:
    """The database's own clock as naive UTC (how timestamps are stored), for claim times."""
    if s.get_bind().dialect.name == 'sqlite':
        return sa.func.current_timestamp()
    return sa.func.timezone('utc', sa.func.now())


# Called inside the transaction that makes a prompt COMPLETED or FAILED (with its image ids), before the commit:
# what it writes (webhook deliveries) commits with the status or not at all. generation never imports its users.
FinalHook = Callable[[Session, Prompt, tuple[int, ...]], None]


@dataclass(frozen=True)
class Claim:
    prompt: Prompt
    token: str


class PromptRows:
    def __init__(self, db: Database, clock: Callable[[], datetime], on_final: FinalHook | None = None) -> None:
        self.db = db
        self.clock = clock
        self.on_final = on_final

    def _final(self, s: Session, row: Prompt, image_ids: tuple[int, ...]) -> None:
        """Run the final hook in a savepoint: should it fail, the prompt still ends (and says so in the log)."""
        if self.on_final is None:
            return
        s.flush()
        try:
            with s.begin_nested():
                self.on_final(s, row, image_ids)
        except Exception:
            log.warning('prompt %s: its final hook (webhook deliveries) failed; the prompt ends anyway', row.id,
                        exc_info=True)

    async def get(self, pid: int) -> Prompt | None:
        return await self.db.run(lambda s: s.get(Prompt, pid))

    async def status(self, pid: int) -> str | None:
        return await self.db.run(lambda s: s.exec(select(Prompt.status).where(col(Prompt.id) == pid)).first())

    async def holds(self, pid: int, token: str) -> bool:
        """Whether the execution with `token` still holds the prompt's claim (and the prompt is unfinished)."""
        row = await self.db.run(lambda s: s.exec(select(Prompt.claim_token, Prompt.status)
                                                  .where(col(Prompt.id) == pid)).first())
        return row is not None and row[0] == token and not Status(row[1]).finished

    async def claim(self, pid: int, status: str, *, submit_seen: int | None = None,
                    finish: bool = False, **values: Any) -> Claim | None:
        """Take the prompt's claim if it has `status` (and, for a submit, still `submit_seen` recorded attempts:
        the attempt is counted before the request goes out); a finish claim numbers its attempt. `values`: columns
        written in the same transaction, only if the claim is taken (one write instead of two on a busy database)."""
        def work(s: Session) -> str | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None or row.status != status:
                return None
            if submit_seen is not None:
                if row.submit_attempts != submit_seen:
                    return None
                row.submit_attempts += 1
            if finish:
                row.finish_attempts += 1
            for column, value in values.items():
                setattr(row, column, value)
            token = uuid.uuid4().hex
            row.claim_token = token
            row.claimed_at = db_now(s)
            row.updated_at = self.clock()
            s.add(row)
            s.commit()
            return token
        token = await self.db.write(work)
        if token is None:
            return None
        # Committed: a submit's attempt is counted now. Its read-back waits out a database that drops just here, as
        # the step's later writes do: a lost read would pause a step whose counted attempt was never sent, and the
        # resume would flag it as a possible extra charge.
        read_back = retrying.retrying(retry_if=retrying.database_unavailable, backoff=READ_BACK_BACKOFF)
        row: Prompt | None = await read_back(self.get, pid)
        if row is None or row.claim_token != token:
            return None  # claimed past since (a stalled step retried elsewhere) or deleted: this execution lost it
        return Claim(row, token)

    async def count_attempt(self, pid: int, token: str) -> Prompt | None:
        """Count one more submit attempt (before its request goes out) if `token` still holds the PENDING prompt."""
        def work(s: Session) -> Prompt | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None or row.status != Status.PENDING.value or row.claim_token != token:
                return None
            row.submit_attempts += 1
            row.updated_at = self.clock()
            s.add(row)
            s.commit()
            s.refresh(row)
            return row
        return await self.db.write(work)

    @overload
    async def update(self, pid: int, *, expect_status: None = None, claim: str | None = None,
                     **values: Any) -> Prompt: ...
    @overload
    async def update(self, pid: int, *, expect_status: str, claim: str | None = None,
                     **values: Any) -> Prompt | None: ...

    async def update(self, pid: int, *, expect_status: str | None = None, claim: str | None = None,
                     **values: Any) -> Prompt | None:
        """Set columns on a prompt; with `expect_status` / `claim`, only if it still has that status / that claim
        holder (else None)."""
        def work(s: Session) -> Prompt | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None:
                raise NotFound('That generation does not exist.')
            if expect_status is not None and row.status != expect_status:
                return None
            if claim is not None and row.claim_token != claim:
                return None
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = self.clock()
            s.add(row)
            s.commit()
            return row
        return await self.db.write(work)

    async def fail(self, pid: int, message: str, *, claim: str | None, billed: bool = False) -> Prompt | None:
        """End an unfinished prompt FAILED with a message, only while `claim` is still the row's claim token (None:
        only while no execution has claimed it); None when it had already ended or another execution claimed it
        since (this one lost: nothing is written). The cost counts this attempt when `billed`, plus every suspect
        (possibly billed) submit."""
        def work(s: Session) -> Prompt | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None or Status(row.status).finished or row.claim_token != claim:
                return None
            now = self.clock()
            # One-image tasks the provider accepted before a later one of the prompt failed to submit were billed.
            accepted = len(saved_task_ids(row)) if row.status == Status.PENDING.value else 0
            row.status = Status.FAILED.value
            row.error_message = message
            row.cost = (row.estimated_cost * (1 if billed else 0)
                        + task_estimate(row) * (row.suspect_submits + accepted))
            row.completed_at = row.updated_at = now
            row.duration_ms = int((now - row.started_at).total_seconds() * 1000)
            row.claim_token = None
            s.add(row)
            self._final(s, row, ())
            s.commit()
            return row
        return await self.db.write(work)

    async def complete(self, pid: int, processed: list[ProcessedImage], keys: list[Keys],
                       unit_cost: Callable[[Prompt], Decimal], claim: str, *,
                       billed_failures: int = 0,
                       tasks_cost: Decimal | None = None) -> tuple[Prompt, tuple[int, ...]] | None:
        """Record the stored images and end the prompt COMPLETED; None when it is no longer PROCESSING (cancelled)
        or another execution holds the claim now (this one lost: nothing is written). `billed_failures`: one-image
        tasks of the prompt that failed but were billed (their estimate is added to the cost). `tasks_cost`: a prompt of
        several one-image tasks, priced per task as billed (made and billed-failed tasks; replaces both terms)."""
        def save(s: Session) -> tuple[Prompt, tuple[int, ...]] | None:
            row = s.get(Prompt, pid, with_for_update=True)
            if row is None or row.status != Status.PROCESSING.value or row.claim_token != claim:
                return None
            source = s.get(Image, row.source_image_id) if row.source_image_id is not None else None
            # A version of a teammate's image is the editor's own root: a version tree (root_image_id) stays one
            # owner's, so nobody's gallery groups or counts another's versions; parent_image_id keeps the link.
            root = root_of(source) if source is not None and source.user_id == row.user_id else None
            images = [Image(user_id=row.user_id, prompt_id=pid, position=n, key=k[0], original_key=k[1],
                            thumb_key=k[2], content_type=p.content_type, width=p.width, height=p.height,
                            size_bytes=len(p.image), sha256=p.sha256, parent_image_id=row.source_image_id,
                            root_image_id=root)
                      for n, (p, k) in enumerate(zip(processed, keys, strict=True))]
            s.add_all(images)
            s.flush()
            now = self.clock()
            row.image_id = images[0].id
            row.status = Status.COMPLETED.value
            row.cost = (unit_cost(row) * len(images) + task_estimate(row) * billed_failures if tasks_cost is None
                        else tasks_cost) + task_estimate(row) * row.suspect_submits
            row.completed_at = row.updated_at = now
            row.duration_ms = int((now - row.started_at).total_seconds() * 1000)
            row.error_message = (None if len(images) >= row.num_images else
                                 f'{len(images)} of {row.num_images} images came: the provider did not make the rest.')
            row.claim_token = None
            s.add(row)
            ids = tuple(i.id for i in images if i.id is not None)
            self._final(s, row, ids)
            s.commit()
            return row, ids
        return await self.db.write(save)
