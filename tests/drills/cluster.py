"""The reference topology (deploy/) as processes, for drills: HAProxy (Debian's) in front of web replicas, an optional
worker, one PostgreSQL database, moto's S3 server and the contract fake.

Roles are a parameter: 'app' is `python app.py` with web and worker in one process (today's default); 'web' is
app.py with NANOGEN_WORKER=false; 'worker' is `python -m nanogen worker` (no HTTP: ready when it is alive and the
database has its schema). Every replica gets the same settings, as the compose file gives them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.drills.app_process import AppProcess
from tests.support.inloop import free_port
from tests.support.s3 import TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY

CLUSTER_KEY = 'drill-cluster-key-7Gq2Lw9Xe4Rt6Yu1Io3Pa5Sd8Fg0HjKl'
ROLE_COMMANDS = {'app': ('app.py',), 'web': ('app.py',), 'worker': ('-m', 'nanogen', 'worker')}


def haproxy_binary() -> str:
    found = shutil.which('haproxy') or ('/usr/sbin/haproxy' if os.path.exists('/usr/sbin/haproxy') else None)
    if found is None:
        if os.environ.get('CI', '').lower() in ('true', '1'):
            pytest.fail('CI=true: haproxy must be installed (.ci/run installs it)', pytrace=False)
        pytest.skip('haproxy is not installed')
    return found


SHIPPED_BALANCER = Path(__file__).resolve().parents[2] / 'deploy' / 'haproxy.cfg'


def balancer_config(port: int, servers: Sequence[tuple[str, int]], shipped: Path = SHIPPED_BALANCER) -> str:
    """deploy/haproxy.cfg itself, so its timings and options are what the drills test, with only what differs off
    Docker changed: the frontend binds a local port, the servers are the replicas' local ports (no Docker resolver,
    so its section goes), and the log goes to stderr (into haproxy.log: what a drill saw)."""
    out: list[str] = []
    servers_written = False
    section = ''
    for line in shipped.read_text().splitlines():
        stripped = line.strip()
        if line and not line[0].isspace() and not line.startswith('#'):
            section = stripped.split()[0]
        if section == 'resolvers':
            continue
        if stripped.startswith('bind ') and section == 'frontend':
            line = f'    bind 127.0.0.1:{port}'
        elif stripped.startswith('log stdout'):
            line = line.replace('log stdout', 'log stderr')
        elif stripped.startswith('server ') and section == 'backend':
            if servers_written:
                continue
            servers_written = True
            out += [f'    server {name} 127.0.0.1:{p} check cookie {name}' for name, p in servers]
            continue
        out.append(line)
    assert servers_written and f'bind 127.0.0.1:{port}' in '\n'.join(out), 'deploy/haproxy.cfg changed shape'
    return '\n'.join(out) + '\n'


class Balancer:
    """Debian's HAProxy in the foreground (-db), with a config written for the replicas' ports."""

    def __init__(self, workdir: Path, servers: Sequence[tuple[str, int]], port: int | None = None) -> None:
        self.port = port or free_port()
        self.path = workdir / 'haproxy.cfg'
        workdir.mkdir(parents=True, exist_ok=True)
        self.path.write_text(balancer_config(self.port, servers))
        self.log_path = workdir / 'haproxy.log'
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def start(self, timeout: float = 10.0) -> None:
        with open(self.log_path, 'ab') as log:
            self.proc = subprocess.Popen([haproxy_binary(), '-db', '-f', str(self.path)], stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'haproxy exited: {self.log_path.read_text(errors="replace")[-2000:]}')
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError('haproxy did not listen in time')

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@dataclass
class Cluster:
    """Replicas of the given roles on one database, all with one key; `balancer` fronts the HTTP ones."""

    workdir: Path
    database_url: str
    roles: Sequence[str] = ('app', 'app')
    settings: dict[str, object] = field(default_factory=dict)
    replicas: list[AppProcess] = field(default_factory=list)
    balancer: Balancer | None = None
    balancer_port: int = field(default_factory=free_port)

    @property
    def public_url(self) -> str:
        """The balancer's address: NANOGEN_PUBLIC_URL of every replica, as in deploy/compose.yaml."""
        return f'http://127.0.0.1:{self.balancer_port}'

    def __post_init__(self) -> None:
        base: dict[str, object] = {'NANOGEN_DATABASE_URL': self.database_url, 'NANOGEN_SECRET_KEY': CLUSTER_KEY,
                                   'NANOGEN_PUBLIC_URL': self.public_url}
        base.update(self.settings)
        for i, role in enumerate(self.roles):
            own = dict(base)
            if role == 'web':
                own['NANOGEN_WORKER'] = 'false'
            self.replicas.append(AppProcess(self.workdir / f'{role}{i}', command=ROLE_COMMANDS[role], **own))

    @property
    def web(self) -> list[AppProcess]:
        return [r for r, role in zip(self.replicas, self.roles, strict=True) if role != 'worker']

    def start(self, timeout: float = 120.0, *, balancer: bool = True) -> None:
        """Every replica at once (as an orchestrator starts them), then wait for each; then the balancer."""
        for replica in self.replicas:
            replica.spawn()
        errors: list[BaseException] = []

        def wait(replica: AppProcess, role: str) -> None:
            try:
                if role != 'worker':  # a worker has no HTTP: it is ready while it runs (checked at the end)
                    replica.wait_ready(timeout)
            except BaseException as exc:  # collected: one failure must not hide the others
                errors.append(exc)

        threads = [threading.Thread(target=wait, args=(r, role)) for r, role in zip(self.replicas, self.roles,
                                                                                      strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        errors += [RuntimeError(f'a worker exited: {r.log_tail()}') for r, role in zip(self.replicas, self.roles,
                   strict=True) if role == 'worker' and r.proc is not None and r.proc.poll() is not None]
        if errors:
            raise AssertionError('; '.join(str(e) for e in errors))
        if balancer and self.web:
            self.balancer = Balancer(self.workdir / 'balancer', [(f'r{i}', r.port) for i, r in enumerate(self.web)],
                                     port=self.balancer_port)
            self.balancer.start()

    def stop(self) -> None:
        if self.balancer is not None:
            self.balancer.stop()
        for replica in self.replicas:  # all at once, as an orchestrator stops them; then wait for each
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGINT)
        for replica in self.replicas:
            replica.stop()


def s3_settings(endpoint: str, bucket: str) -> dict[str, object]:
    return {'R2_BUCKET': bucket, 'R2_ACCESS_KEY_ID': TEST_ACCESS_KEY_ID, 'R2_SECRET_ACCESS_KEY': TEST_SECRET_ACCESS_KEY,
            'NANOGEN_S3_ENDPOINT_URL': endpoint, 'NANOGEN_S3_REGION': TEST_REGION}


@contextmanager
def running(cluster: Cluster, **start: object) -> Iterator[Cluster]:
    try:
        cluster.start(**start)  # type: ignore[arg-type]
        yield cluster
    finally:
        cluster.stop()


def served_by(client: httpx.Client) -> str | None:
    """The replica the balancer pinned this client to (its SERVERID cookie)."""
    return client.cookies.get('SERVERID')
