"""Serve an ASGI app over real HTTP from a background thread, for integration tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve_asgi(app: Any, *, host: str = '127.0.0.1', startup_timeout: float = 10.0) -> Iterator[str]:
    """Run `app` with uvicorn on a free port in a daemon thread; yield its base URL; stop it cleanly."""
    # Bind the socket ourselves and hand it to uvicorn: asking for a free port and binding it later races with
    # other tests doing the same.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host=host, port=port, log_level='warning', lifespan='off',
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    # uvicorn only installs signal handlers on the main thread, so running it here leaves pytest's alone.
    thread = threading.Thread(target=server.run, kwargs={'sockets': [sock]}, name=f'uvicorn-{port}', daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f'uvicorn for {app!r} exited before it started')
            if time.monotonic() > deadline:
                raise RuntimeError(f'uvicorn for {app!r} did not start within {startup_timeout}s')
            time.sleep(0.01)
        yield f'http://{host}:{port}'
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()


class SwappableApp:
    """An ASGI app forwarding to `target`, which a test may replace: one server per module, a fresh app per test
    (starting and stopping uvicorn costs ~0.2 s)."""

    def __init__(self, target: Any = None) -> None:
        self.target = target

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.target is None:
            raise RuntimeError('SwappableApp has no target app')
        await self.target(scope, receive, send)
