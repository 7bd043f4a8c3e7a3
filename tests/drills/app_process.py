"""The real app as a child process (`python app.py`), for drills and benchmarks that kill it or load it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from tests.support.inloop import free_port

ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIXES = ('NANOGEN_', 'NANOBANANA_', 'R2_', 'GOOGLE_', 'NICEGUI_', 'PYTEST_')  # the test run's own
T = TypeVar('T')


class AppProcess:
    """Starts app.py with only the settings given (plus PATH and friends); restarts on the same port."""

    def __init__(self, data_dir: Path, *, port: int | None = None, command: tuple[str, ...] = ('app.py',),
                 **settings: object) -> None:
        self.data_dir = data_dir
        self.command = command
        self.port = port or free_port()
        self.settings = {k: str(v) for k, v in settings.items()}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / 'app.log'

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def start(self, timeout: float = 60.0) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the process without waiting for it (several replicas starting together)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
        env.update(NANOGEN_DATA_DIR=str(self.data_dir), NANOGEN_HOST='127.0.0.1', PORT=str(self.port),
                   PYTHONUNBUFFERED='1', **self.settings)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, 'ab')  # noqa: SIM115 - the child owns it for its whole life
        self.proc = subprocess.Popen([sys.executable, *self.command], cwd=ROOT, env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()

    def wait_ready(self, timeout: float = 60.0, path: str = '/healthz') -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'app.py exited with {self.proc.returncode}: {self.log_tail()}')
            try:
                if httpx.get(f'{self.url}{path}', timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f'app.py did not answer within {timeout} s: {self.log_tail()}')

    def wait_exit(self, timeout: float = 60.0) -> int:
        """The exit code of a process expected to stop by itself (e.g. refused at start)."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGINT)  # a graceful shutdown runs the app's on_shutdown handlers
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors='replace')[-chars:]
        except OSError:
            return ''


def against_fake(data_dir: Path, fake_url: str, **settings: object) -> AppProcess:
    """The app on its own SQLite file in `data_dir`, talking to the contract fake at `fake_url`."""
    return AppProcess(data_dir, NANOBANANA_API_KEY='test-key-123456', NANOBANANA_BASE_URL=fake_url, **settings)


def wait_rows(read: Callable[[], list[T]], done: Callable[[list[T]], bool], timeout: float, app: AppProcess,
              describe: Callable[[T], object] = repr) -> list[T]:
    """Read the rows every 0.1 s until `done(rows)`; on timeout, fail showing them and the app's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = read()
        if done(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f'gave up waiting: {[describe(r) for r in read()]}\n{app.log_tail()}')
