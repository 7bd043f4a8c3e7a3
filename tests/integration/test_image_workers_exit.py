"""The image worker processes end with the app even when it is killed (kill -9, the OOM killer): nothing tells the
pool to stop then, and each worker, with the idle fork server it came from, stayed behind for good on a machine
without a container or systemd to reap them (seen: 26 fork servers left by one evening of drills and benches)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.drills.app_process import AppProcess


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'  # a zombie has ended; only its parent's wait is missing


def test_a_killed_apps_image_workers_end_with_it(tmp_path: Path) -> None:
    app = AppProcess(tmp_path / 'data', NANOGEN_SECRET_KEY='w' * 40, NANOGEN_IMAGE_WORKERS=2)
    app.start()
    try:
        assert app.proc is not None
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while time.monotonic() < deadline:  # the workers start (warm) right after start-up
            servers = children(app.proc.pid)
            workers = [w for s in servers for w in children(s)]
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2, f'no image workers found under the app: {servers}'
        processes = [*servers, *workers]
        app.kill9()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(p) for p in processes):
            time.sleep(0.2)
        left = [p for p in processes if alive(p)]
        assert left == [], f'processes of the killed app still running: {left}'
    finally:
        app.stop()
