"""Sends the pending deliveries: a small loop in the worker role; each row is claimed (a lease) before its attempt,
so one replica sends it; a failed attempt is retried with exponential backoff until NANOGEN_WEBHOOK_MAX_ATTEMPTS.

A process that dies mid-attempt leaves the lease to run out; another sender then tries again (receivers dedupe by
`X-Nanogen-Delivery`). Requests go to the address the safety check vetted (pinned: no second DNS answer), follow
no redirect, and read no response body. Neither the secret, the signature nor the URL (which may carry a token)
is logged: lines name the delivery, the endpoint and the host.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import Session, col, select

from nanogen import retrying
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import InvalidInput
from nanogen.models import utcnow
from nanogen.webhooks import safety, signing
from nanogen.webhooks.tables import DELIVERED, FAILED, PENDING, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)
BATCH = 20
MAX_BACKOFF_S = 6 * 3600.0
POLL_MAX_S = 1.0


@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint_id: int
    event: str
    payload: str
    url: str
    secret: str
    attempts: int  # before this one


class WebhookSender:
    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.allowed = safety.parse_allowed(settings.webhook_allowed_hosts)
        self.backoff = retrying.Backoff(settings.webhook_backoff_s, max(MAX_BACKOFF_S, settings.webhook_backoff_s))
        self.lease = timedelta(seconds=settings.webhook_timeout_s * 2 + 30)
        self.poll_s = min(POLL_MAX_S, settings.webhook_backoff_s)
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name='webhook-sender')

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def wake(self) -> None:
        """Look for due deliveries now (safe from any thread; a no-op when the loop is not running here)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.run_due()
            except Exception:  # the database may be briefly away: the rows wait, the next look retries
                log.warning('webhook sender could not look for deliveries; trying again', exc_info=True)
                sent = 0
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass
            self._wakeup.clear()

    # ------------------------------------------------------------------ one round
    async def run_due(self) -> int:
        """Claim the due deliveries and attempt each once; returns how many were attempted."""
        if not await self.db.run(self._any_due):  # a plain read first: no write lock taken every poll for nothing
            return 0
        claimed = await self.db.write(self._claim)
        if claimed:
            await asyncio.gather(*(self._attempt(c) for c in claimed))
        return len(claimed)

    def _due(self, now: datetime) -> Any:
        free = col(WebhookDelivery.claimed_until).is_(None) | (col(WebhookDelivery.claimed_until) < now)
        return (col(WebhookDelivery.state) == PENDING) & (col(WebhookDelivery.next_attempt_at) <= now) & free

    def _any_due(self, s: Session) -> bool:
        return s.exec(select(WebhookDelivery.id).where(self._due(self.clock())).limit(1)).first() is not None

    def _claim(self, s: Session) -> list[Claimed]:
        now = self.clock()
        rows = s.exec(select(WebhookDelivery, WebhookEndpoint)
                      .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id))
                      .where(self._due(now), col(WebhookEndpoint.active).is_(True))
                      .order_by(col(WebhookDelivery.next_attempt_at)).limit(BATCH)
                      .with_for_update(skip_locked=True, of=WebhookDelivery)).all()
        claimed = []
        for delivery, endpoint in rows:
            assert delivery.id is not None
            delivery.claimed_until = now + self.lease
            s.add(delivery)
            claimed.append(Claimed(id=delivery.id, endpoint_id=delivery.endpoint_id, event=delivery.event,
                                   payload=delivery.payload, url=endpoint.url, secret=endpoint.secret,
                                   attempts=delivery.attempts))
        s.commit()
        return claimed

    async def _attempt(self, c: Claimed) -> None:
        status, error = None, None
        host = '?'
        try:
            target = await safety.check(c.url, self.allowed)
            host = target.host
            status = await self._post(target, c)
            if not 200 <= status < 300:
                error = 'a redirect is not followed' if 300 <= status < 400 else f'the receiver answered {status}'
        except safety.Refused as exc:
            error = str(exc)
        except InvalidInput as exc:  # a URL stored before a rule changed
            error = exc.user_message
        except httpx.TimeoutException:
            error = f'no answer within {self.settings.webhook_timeout_s:g} s'
        except httpx.HTTPError as exc:
            error = f'could not connect ({type(exc).__name__})'
        await self.db.write(lambda s: self._record(s, c, status, error))
        if error is None:
            log.info('webhook delivery %s (%s) to endpoint %s at %s: %s', c.id, c.event, c.endpoint_id, host, status)
        else:
            log.warning('webhook delivery %s (%s) to endpoint %s at %s failed (attempt %d): %s', c.id, c.event,
                        c.endpoint_id, host, c.attempts + 1, error)

    async def _post(self, target: safety.Target, c: Claimed) -> int:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.webhook_timeout_s, follow_redirects=False,
                                           trust_env=False, transport=self._transport)
        body = c.payload.encode()
        headers = signing.headers(secret=c.secret, event=c.event, delivery_id=c.id, timestamp=int(time.time()),
                                  body=body)
        url = httpx.URL(target.url)
        headers['Host'] = url.netloc.decode('ascii')
        extensions = {'sni_hostname': target.host} if target.scheme == 'https' else {}
        request = self._http.build_request('POST', url.copy_with(host=target.address), content=body, headers=headers,
                                           extensions=extensions)
        response = await self._http.send(request, stream=True)  # the body is never read
        await response.aclose()
        return response.status_code

    def _maybe_disable(self, s: Session, endpoint_id: int) -> None:
        """Turn the endpoint off when its last NANOGEN_WEBHOOK_DISABLE_AFTER finished deliveries all failed: a
        receiver gone for good should not take every attempt of every event for ever. Its owner sees why."""
        limit = self.settings.webhook_disable_after
        if limit <= 0:
            return
        last = s.exec(select(WebhookDelivery.state).where(col(WebhookDelivery.endpoint_id) == endpoint_id,
                                                          col(WebhookDelivery.state) != PENDING)
                      .order_by(col(WebhookDelivery.updated_at).desc(), col(WebhookDelivery.id).desc())
                      .limit(limit)).all()
        if len(last) < limit or any(state != FAILED for state in last):
            return
        endpoint = s.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if endpoint is None or not endpoint.active:
            return
        endpoint.active = False
        endpoint.disabled_reason = (f'Turned off on {self.clock():%Y-%m-%d %H:%M} UTC: its last {limit} deliveries '
                                    'failed after every attempt. Fix the receiver, turn it on, and redeliver.')
        s.add(endpoint)
        log.warning('webhook endpoint %s turned off: its last %d deliveries failed', endpoint_id, limit)

    def _record(self, s: Session, c: Claimed, status: int | None, error: str | None) -> None:
        row = s.get(WebhookDelivery, c.id, with_for_update=True)
        if row is None or row.state != PENDING:  # deleted meanwhile, or redelivered and sent by another
            return
        now = self.clock()
        row.attempts += 1
        row.last_status, row.last_error = status, (error or None) and error[:300]
        row.claimed_until, row.updated_at = None, now
        if error is None:
            row.state, row.delivered_at = DELIVERED, now
        elif row.attempts >= self.settings.webhook_max_attempts:
            row.state = FAILED
            s.add(row)
            s.flush()
            self._maybe_disable(s, row.endpoint_id)
        else:
            row.next_attempt_at = now + timedelta(seconds=self.backoff.delay(row.attempts))
        s.add(row)
        s.commit()
