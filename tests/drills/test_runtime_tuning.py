"""Drill: the serving process (`python app.py`) runs with its capacity tuning (issue 18, docs/benchmarks.md).

Both settings only exist in the real process (tests import app.py, they do not run it), so a real one is asked:
its log says the start-up objects were frozen (NANOGEN_GC_FREEZE), and engine.io's open packet carries the ping
that NANOGEN_RECONNECT_TIMEOUT gives NiceGUI's socket (a ping every 0.8x, a tab dropped after 0.4x without a pong).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.drills.app_process import AppProcess, against_fake


def gc_line(app: AppProcess) -> str:
    """The log line the serving process writes once started, after the collector was (or was not) tuned."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in app.log_tail(1_000_000).splitlines():
            if 'garbage collector:' in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f'no garbage collector line in the log: {app.log_tail()}')


def ping_of(app: AppProcess) -> tuple[int, int]:
    opened = httpx.get(f'{app.url}/_nicegui_ws/socket.io/', params={'EIO': '4', 'transport': 'polling'})
    packet = json.loads(opened.text.removeprefix('0'))  # '0' is engine.io's "open"
    return packet['pingInterval'], packet['pingTimeout']


def test_the_defaults_freeze_start_up_objects_and_give_tabs_a_4_s_pong_window(fake, isolated_env: Path) -> None:
    app = against_fake(isolated_env / 'app', fake[1])
    try:
        app.start()
        assert ping_of(app) == (8000, 4000)  # NiceGUI's own default (3 s) would be (4000, 2000)
        assert 'start-up objects frozen' in gc_line(app)
    finally:
        app.stop()


def test_both_can_be_set(fake, isolated_env: Path) -> None:
    app = against_fake(isolated_env / 'app', fake[1], NANOGEN_RECONNECT_TIMEOUT=20, NANOGEN_GC_FREEZE='false')
    try:
        app.start()
        assert ping_of(app) == (16000, 8000)
        assert 'left as Python starts it' in gc_line(app)
    finally:
        app.stop()
