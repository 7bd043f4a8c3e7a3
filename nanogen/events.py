"""In-process publish/subscribe for generation status changes (NiceGUI-free; pages bridge it to the browser)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nanogen.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptEvent:
    """A prompt changed: who owns it, what it is now, and a line a person can read."""

    user_id: int
    prompt_id: int
    status: str
    message: str = ''
    image_ids: tuple[int, ...] = ()
    at: datetime = field(default_factory=utcnow)
    relayed: bool = False  # arrived from another replica (see pubsub.py): not to be relayed again


Handler = Callable[[PromptEvent], Any]


class EventBus:
    """Fan-out of PromptEvents to subscribers; a failing subscriber never breaks the publisher."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)
        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        return len(self._handlers)

    def publish(self, event: PromptEvent) -> None:
        for handler in list(self._handlers):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:  # a broken page must not stop the generation service
                log.warning('event handler failed for prompt %s', event.prompt_id, exc_info=True)
