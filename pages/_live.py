"""A page's live updates: its user's PromptEvents, coalesced per tab and applied only while the tab is there."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Collection

from nicegui import background_tasks, ui

from nanogen.events import PromptEvent

from .frame import user_events

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
    pending: dict[int, PromptEvent] = {}
    running: list[asyncio.Task[None]] = []

    def start() -> None:
        if pending and not running and not client.is_deleted and client.has_socket_connection:
            running.append(background_tasks.create(flush(), name='live prompt events'))

    def receive(event: PromptEvent) -> None:
        if client.is_deleted or (statuses is not None and event.status not in statuses):
            return
        pending[event.prompt_id] = event  # an existing key keeps its place: the order prompts first changed
        start()

    async def flush() -> None:
        cancelled = False
        try:
            while True:
                await asyncio.sleep(delay)
                if not pending or client.is_deleted or not client.has_socket_connection:
                    return  # what is left waits for the next connect (or dies with the client)
                batch = list(pending.values())
                pending.clear()
                with client:
                    result = handler(batch)
                    if inspect.isawaitable(result):
                        await result
        except asyncio.CancelledError:
            cancelled = True  # shutting down: never start again (teardown cancels until no task is left)
            raise
        finally:
            running.clear()
            if not cancelled and pending:  # the handler failed: what came meanwhile still gets shown
                asyncio.get_running_loop().call_soon(start)

    events.subscribe(receive, unsubscribe_on_delete=False)  # removed below, whether or not a UI slot is current
    client.on_delete(lambda: events.unsubscribe(receive))
    client.on_connect(start)
