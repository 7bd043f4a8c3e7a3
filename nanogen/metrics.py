"""Prometheus metrics with one registry per Services instance (tests build many apps in one process)."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlmodel import Session, col, func, select

from nanogen.db import Database
from nanogen.errors import StorageError
from nanogen.events import EventBus, PromptEvent
from nanogen.models import Prompt, Status, utcnow
from nanogen.spend import month_suspect_submits, team_month_spend

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
GENERATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
STORAGE_OPS = ('put', 'get', 'delete')


class Metrics:
    def __init__(self, db: Database, bus: EventBus, *, in_flight: Callable[[], int],
                 suspect_submits: Callable[[], int] = lambda: 0) -> None:
        self.db = db
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.generations = Counter('nanogen_generations', 'Generations that reached a status, by status',
                                   ['status'], registry=r)
        self.generation_seconds = Histogram('nanogen_generation_seconds', 'From queued to finished, seconds',
                                            ['status'], buckets=GENERATION_BUCKETS, registry=r)
        self.provider_latency = Histogram('nanogen_provider_request_seconds',
                                          'Latency of requests to the Nanobanana API', ['endpoint'],
                                          buckets=LATENCY_BUCKETS, registry=r)
        self.storage_errors = Counter('nanogen_storage_errors', 'Object store operations that failed', ['op'],
                                      registry=r)
        self.queue_depth = Gauge('nanogen_generations_in_flight', 'Generations this process is driving now',
                                 registry=r)
        self.queue_depth.set_function(lambda: float(in_flight()))
        self.suspect = Gauge('nanogen_suspect_submits', 'Resubmits by this process after a submit whose task id was '
                             'lost (possibly billed twice; counted in the prompt cost)', registry=r)
        self.suspect.set_function(lambda: float(suspect_submits()))
        self.suspect_month = Gauge('nanogen_suspect_submits_month', 'Resubmits this UTC month, all replicas, after '
                                   'a submit whose task id was lost (from the database)', registry=r)
        self.prompts_by_status = Gauge('nanogen_prompts', 'Prompts in the database, by status', ['status'],
                                       registry=r)
        self.spend = Gauge('nanogen_spend_usd_month', 'Spend this UTC month in USD, reservations included',
                           registry=r)
        self._started: dict[int, float] = {}
        bus.subscribe(self._on_event)

    # ------------------------------------------------------------------ feeds
    def _on_event(self, event: PromptEvent) -> None:
        if getattr(event, 'relayed', False):  # another replica's job: that replica counts it
            return
        status = Status(event.status)
        if status is Status.PENDING and event.prompt_id not in self._started:
            if len(self._started) > 10_000:  # jobs that ended on another replica never pop out: bound the memory
                self._started.clear()
            self._started[event.prompt_id] = time.monotonic()
            self.generations.labels(status=status.value).inc()
        elif status.finished:
            self.generations.labels(status=status.value).inc()
            started = self._started.pop(event.prompt_id, None)
            if started is not None:
                self.generation_seconds.labels(status=status.value).observe(time.monotonic() - started)

    def instrument_http(self, http: httpx.AsyncClient, base_url: str) -> None:
        """Time every request to the provider's API through httpx event hooks (downloads are labelled apart)."""
        api_host = httpx.URL(base_url).host

        async def on_request(request: httpx.Request) -> None:
            request.extensions['nanogen_t0'] = time.perf_counter()

        async def on_response(response: httpx.Response) -> None:
            started = response.request.extensions.get('nanogen_t0')
            if started is not None:
                self.provider_latency.labels(endpoint=_endpoint(response.request.url, api_host)).observe(
                    time.perf_counter() - started)

        hooks = http.event_hooks
        hooks['request'].append(on_request)
        hooks['response'].append(on_response)
        http.event_hooks = hooks

    def instrument_storage(self, storage: Any) -> None:
        """Count failed put/get/delete calls. Wraps the instance's own methods, so isinstance checks still hold."""
        for op in STORAGE_OPS:
            method = getattr(storage, op, None)
            if method is not None and not getattr(method, '_nanogen_metered', False):
                setattr(storage, op, self._metered(op, method))

    def _metered(self, op: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(method)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except StorageError:
                self.storage_errors.labels(op=op).inc()
                raise
        wrapper._nanogen_metered = True  # type: ignore[attr-defined]
        return wrapper

    # ------------------------------------------------------------------ exposition
    async def render(self) -> bytes:
        """Refresh the database-derived gauges, then the text exposition format."""
        now = utcnow()

        def work(s: Session) -> tuple[dict[str, int], float, int]:
            rows = s.exec(select(Prompt.status, func.count()).group_by(col(Prompt.status))).all()
            return ({str(k): int(v) for k, v in rows}, float(team_month_spend(s, now)),
                    month_suspect_submits(s, now)[1])
        counts, spent, suspect = await self.db.run(work)
        for status in Status:
            self.prompts_by_status.labels(status=status.value).set(counts.get(status.value, 0))
        self.spend.set(spent)
        self.suspect_month.set(suspect)
        return generate_latest(self.registry)


def _endpoint(url: httpx.URL, api_host: str | None) -> str:
    if url.host == api_host and url.path.startswith('/api/'):
        return url.path
    return 'download'
