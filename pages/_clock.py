"""The elapsed time of a generation, ticking in the browser: no server-side timer per tab (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime

from nicegui import ui

from nanogen.models import Prompt, Status, utcnow


def _ms(value: datetime) -> int:
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)


def timing(prompt: Prompt) -> dict[str, int | None]:
    """What a browser needs to count a prompt's elapsed time: its start and, once it ended, its end (now, if it
    ended without one), in ms since the epoch."""
    finished = Status(prompt.status).finished
    end = prompt.completed_at or (utcnow() if finished else None)
    return {'started': _ms(prompt.started_at), 'ended': _ms(end) if end else None}


def server_now_ms() -> int:
    return _ms(utcnow())


class Clock(ui.element, component='_clock.js'):
    """m:ss since the prompt was created, up to its end; only numbers go to the browser."""

    def __init__(self, prompt: Prompt) -> None:
        super().__init__()
        self.classes('nanogen-clock')
        self._props['now'] = server_now_ms()
        self.show(prompt)

    def show(self, prompt: Prompt) -> None:
        """The prompt's start and end; the browser counts between."""
        self._props.update(timing(prompt))
        self.update()
