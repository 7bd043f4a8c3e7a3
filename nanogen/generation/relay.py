"""Cross-replica relay over PostgreSQL LISTEN/NOTIFY: status events reach every replica.

One replica's GenerationService publishes PromptEvents on its own EventBus; a browser tab of the same user may be
connected to another replica (sticky sessions pin a tab, not a user). With PostgreSQL as the database, this relay
forwards each local event as a NOTIFY and republishes the others' events locally, marked `relayed`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from nanogen import retrying
from nanogen.events import EventBus, PromptEvent

log = logging.getLogger(__name__)
CHANNEL = 'nanogen_events'
MAX_PAYLOAD = 7900  # NOTIFY payloads must stay under 8000 bytes
NOTIFY_AT_ONCE = retrying.Backoff(0.0, 0.0)  # a dropped sender is reconnected straight away, once
LISTEN_BACKOFF = retrying.Backoff(0.5, 10.0)


def connection_failed(exc: BaseException) -> bool:
    """The PostgreSQL connection failed or was dropped (a restart): a new connection can succeed."""
    return isinstance(exc, psycopg.Error)


def to_psycopg_url(url: str) -> str:
    for prefix in ('postgresql+psycopg://', 'postgres://'):
        if url.startswith(prefix):
            return 'postgresql://' + url.removeprefix(prefix)
    return url


class PostgresRelay:
    def __init__(self, url: str, bus: EventBus, *, replica_id: str | None = None) -> None:
        self.url = to_psycopg_url(url)
        self.bus = bus
        self.replica_id = replica_id or uuid.uuid4().hex
        self._listener: asyncio.Task[None] | None = None
        self._sender: psycopg.AsyncConnection[Any] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = asyncio.Lock()
        self.ready = asyncio.Event()

    async def start(self) -> None:
        self._unsubscribe = self.bus.subscribe(self._forward)
        self._listener = asyncio.create_task(self._listen(), name='pg-relay-listen')

    async def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._listener:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._sender is not None:
            await self._sender.close()

    def _forward(self, event: PromptEvent) -> Any:
        if event.relayed:
            return None
        return self._notify({'kind': 'event', 'user_id': event.user_id, 'prompt_id': event.prompt_id,
                             'status': event.status, 'message': event.message[:2000],
                             'image_ids': list(event.image_ids), 'at': event.at.isoformat()})

    async def _notify(self, body: dict[str, Any]) -> None:
        payload = json.dumps({**body, 'from': self.replica_id})[:MAX_PAYLOAD]

        async def send() -> None:
            try:
                if self._sender is None or self._sender.closed:
                    self._sender = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                await self._sender.execute('SELECT pg_notify(%s, %s)', (CHANNEL, payload))
            except psycopg.Error:
                self._sender = None
                raise

        def give_up(state: retrying.RetryCallState) -> None:  # events are best effort: log and go on
            log.warning('event relay could not notify other replicas: %s', type(retrying.failure(state)).__name__)

        async with self._lock:  # one sender connection, used by one coroutine at a time
            await retrying.retrying(retry_if=connection_failed, attempts=2, backoff=NOTIFY_AT_ONCE,
                                    give_up=give_up)(send)

    async def _listen(self) -> None:
        # A supervisor rather than a tenacity retryer: its backoff starts afresh after every connection that
        # worked (a retryer's attempt count only grows), but the delays come from the same Backoff.
        failures = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f'LISTEN {CHANNEL}')
                    self.ready.set()
                    failures = 0
                    async for notice in conn.notifies():
                        self._receive(notice.payload)
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:  # the database restarted: listen again, with backoff
                self.ready.clear()
                failures += 1
                delay = LISTEN_BACKOFF.delay(failures)
                log.warning('event relay lost its connection (%s); reconnecting in %.1f s', type(exc).__name__, delay)
                await asyncio.sleep(delay)

    def _receive(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            if data.get('from') == self.replica_id:
                return
            if data.get('kind') != 'event':
                return  # e.g. a 'wake' from a replica still running an older version: nothing listens for it now
            self.bus.publish(PromptEvent(user_id=int(data['user_id']), prompt_id=int(data['prompt_id']),
                                         status=str(data['status']), message=str(data.get('message', '')),
                                         image_ids=tuple(int(i) for i in data.get('image_ids', ())),
                                         at=datetime.fromisoformat(data['at']), relayed=True))
        except (ValueError, KeyError, TypeError):
            log.warning('event relay ignored a malformed notification')
