"""The wake-up hub between the generation service and the cross-replica relay, which each need the other.

A callback can reach any replica. The relay hands a remote replica's wake-up to this process's generation service
(`wake_local`), and the generation service hands a wake-up for a job another replica drives to the relay. Neither can
be built first with the other in its constructor, so this hub is built first instead: bootstrap gives it to the
relay (as its `on_wake`), and the generation service registers its `wake_local` here when it is constructed.
"""

from __future__ import annotations

from collections.abc import Callable


class Wakeups:
    def __init__(self) -> None:
        self._local: Callable[[int], bool] | None = None

    def serve(self, wake_local: Callable[[int], bool]) -> None:
        """Called once, by the generation service's constructor."""
        self._local = wake_local

    def wake_local(self, prompt_id: int) -> bool:
        """Make this process's job for the prompt check its task now; False when this process does not drive it."""
        return self._local(prompt_id) if self._local is not None else False
