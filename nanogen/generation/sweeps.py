"""The periodic sweeps over prompt rows that the generation steps share: resume (re-defer what lost its job) and the
timeout net. A base of `Steps` (steps.py), which supplies the fenced `_fail`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from nanogen.config import Settings
from nanogen.generation.engine import JobEngine
from nanogen.generation.store import PromptRows
from nanogen.models import UNFINISHED, Prompt, Status
from nanogen.provider.client import PROVIDER_SIDE

log = logging.getLogger(__name__)
TIMEOUT_SWEEP_GRACE_S = 60.0  # past the deadline, before the sweep fails a prompt its own step did not end


class Sweeps:
    engine: JobEngine
    rows: PromptRows
    settings: Settings

    async def _fail(self, pid: int, message: str, *, claim: str | None, billed: bool = False) -> None:
        raise NotImplementedError

    def timeout_message(self) -> str:
        minutes = max(1, round(self.settings.generation_timeout_s / 60))
        return (f'The provider did not finish within {minutes} minutes. {PROVIDER_SIDE}; you were not charged. '
                'Press Retry later.')

    async def resume(self) -> int:
        """Defer the next step of every unfinished prompt that has no live job (the queue lost it: a restart on
        SQLite, a job that ended badly, a crash between recording and deferring)."""
        live = await self.engine.live_prompt_ids()

        def find(s: Session) -> list[tuple[int, str]]:
            rows = s.exec(select(Prompt.id, Prompt.status).where(col(Prompt.status).in_(UNFINISHED))
                          .order_by(col(Prompt.id)))
            return [(i, st) for i, st in rows if i is not None and i not in live]
        resumed = 0
        for pid, status in await self.rows.db.run(find):
            step = 'submit' if status == Status.PENDING.value else 'check'
            if await self.engine.defer(step, pid):
                resumed += 1
        if resumed:
            log.info('resumed %d unfinished generation(s)', resumed)
        return resumed

    async def fail_timed_out(self) -> int:
        """End every unfinished prompt past NANOGEN_GENERATION_TIMEOUT (whatever happened to its jobs), after a
        grace: a step still running ends its own prompt at the deadline with the reason it knows (a model in
        maintenance, say), and this net must not race it with a plain "timed out"."""
        cutoff = self.rows.clock() - timedelta(seconds=self.settings.generation_timeout_s + TIMEOUT_SWEEP_GRACE_S)

        def find(s: Session) -> list[tuple[int, str | None]]:
            started: Any = func.coalesce(col(Prompt.released_at), col(Prompt.created_at))
            rows = s.exec(select(Prompt.id, Prompt.claim_token).where(
                col(Prompt.status).in_(UNFINISHED), started < cutoff,
                (col(Prompt.submitted_at).is_(None)) | (col(Prompt.submitted_at) < cutoff)))
            return [(i, token) for i, token in rows if i is not None]
        found = await self.rows.db.run(find)
        for pid, token in found:  # a step that claims the row meanwhile (and may yet finish it) wins
            await self._fail(pid, self.timeout_message(), claim=token)
        return len(found)
