"""A page's live updates: its user's PromptEvents, coalesced per tab and applied only while the tab is there."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Collection, Hashable
from typing import Any, TypeVar

from nicegui import Client, background_tasks, ui

from nanogen.coalesce import Shared
from nanogen.events import PromptEvent

from .frame import PageContext, user_events

T = TypeVar('T')
# The reads live updates make, shared between a user's tabs handling the same burst of events (issue 18).
LIVE_READS: Shared[Any] = Shared(max_age_s=2.0)

BATCH_S = 0.15  # a burst of events (hundreds of generations finishing together) becomes one update per tab

BatchHandler = Callable[[list[PromptEvent]], Awaitable[None] | None]


def on_prompt_events(user_id: int, handler: BatchHandler, *, statuses: Collection[str] | None = None,
                     delay: float = BATCH_S) -> None:
    """Call `handler(events)` in this page's client with the latest event of each changed prompt, at most once per
    `delay`, in the order the prompts first changed.

    Receiving an event only records it, so a user with many open tabs costs one dict write per tab per event. A tab
    whose socket is not connected (still loading, asleep, or a page fetched by a script that never connects) keeps
    its events until it connects; a deleted tab drops them, and its subscription goes with it.
    """
    client = ui.context.client
    events = user_events(user_id)
    live = _LiveEvents(client, handler, statuses, delay)
    events.subscribe(live.receive, unsubscribe_on_delete=False)  # removed below, whether or not a UI slot is current
    client.on_delete(lambda: events.unsubscribe(live.receive))
    client.on_connect(live.start)


class _LiveEvents:
    """One tab's pending events and its flush task. An object, not closures that call each other: such closures
    are a reference cycle, which kept each closed tab's page (whatever `handler` reaches) for the garbage collector;
    pages/_free.py drops the client's handlers, so this goes by reference counting with the tab."""

    def __init__(self, client: Client, handler: BatchHandler, statuses: Collection[str] | None,
                 delay: float) -> None:
        self.client, self.handler, self.statuses, self.delay = client, handler, statuses, delay
        self.pending: dict[int, PromptEvent] = {}
        self.running: list[asyncio.Task[None]] = []

    def start(self) -> None:
        client = self.client
        if self.pending and not self.running and not client.is_deleted and client.has_socket_connection:
            self.running.append(background_tasks.create(self.flush(), name='live prompt events'))

    def receive(self, event: PromptEvent) -> None:
        if self.client.is_deleted or (self.statuses is not None and event.status not in self.statuses):
            return
        self.pending[event.prompt_id] = event  # an existing key keeps its place: the order prompts first changed
        self.start()

    async def flush(self) -> None:
        client, pending = self.client, self.pending
        cancelled = False
        try:
            while True:
                await asyncio.sleep(self.delay)
                if not pending or client.is_deleted or not client.has_socket_connection:
                    return  # what is left waits for the next connect (or dies with the client)
                batch = list(pending.values())
                pending.clear()
                with client:
                    result = self.handler(batch)
                    if inspect.isawaitable(result):
                        await result
        except asyncio.CancelledError:
            cancelled = True  # shutting down: never start again (teardown cancels until no task is left)
            raise
        finally:
            self.running.clear()
            if not cancelled and pending:  # the handler failed: what came meanwhile still gets shown
                asyncio.get_running_loop().call_soon(self.start)


def burst(batch: list[PromptEvent]) -> tuple[tuple[int, str, str], ...]:
    """What a burst of events names: a user's tabs handed the same burst read the same fresh state."""
    return tuple((e.prompt_id, e.status, e.at.isoformat()) for e in batch)


async def shared_read(ctx: PageContext, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """`read()` once for all of this user's tabs asking with the same `key` (include `burst(batch)`: the events
    came after their commit, so a read started for them sees it). Each tab still checks who it is first."""
    await ctx.require_user()
    result: T = await LIVE_READS.get((ctx.user.id, key), read)
    return result
