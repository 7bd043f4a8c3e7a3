"""A real S3 endpoint for integration tests: moto's server on a free local port, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

TEST_REGION = 'us-east-1'
TEST_ACCESS_KEY_ID = 'testing-key-id'
TEST_SECRET_ACCESS_KEY = 'testing-secret'


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1 (port chosen by the OS) and yield its endpoint URL.

    Moto accepts any credentials; pass TEST_ACCESS_KEY_ID / TEST_SECRET_ACCESS_KEY explicitly rather than
    through the environment, so nothing can fall back to real credentials. State lives in the server
    process, so use one bucket name per test.
    """
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f'http://{host}:{port}'
    finally:
        server.stop()
