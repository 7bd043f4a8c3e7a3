"""Start-up guards for running more than one process: one migration at a time, one key everywhere, one SQLite owner.

- PostgreSQL: every replica migrates under one advisory lock, so N replicas starting together on an empty database
  run the migrations once (the others wait, then find the schema current) instead of racing into UniqueViolation.
- The secret key's fingerprint (an HMAC of a fixed label, never the key) is stored in `cluster_facts` on the first
  start; a replica started with another key refuses to start, saying so (sessions, share links and provider
  callbacks would silently fail across replicas otherwise).
- SQLite: the data dir is locked (an OS file lock held for the process's life, released by the kernel on exit or
  kill -9), so a second process on the same data dir is refused instead of silently missing live updates.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from nanogen.db import Database
from nanogen.errors import ConfigError

log = logging.getLogger(__name__)
MIGRATION_LOCK_ID = 0x6E616E6F67656E  # 'nanogen': one advisory lock id for every replica of one database
FINGERPRINT_LABEL = b'nanogen secret key fingerprint v1'
FINGERPRINT_FACT = 'secret_key_fingerprint'
LOCK_FILE = 'nanogen.lock'


def key_fingerprint(secret_key: str) -> str:
    """HMAC-SHA256 of a fixed label under the key: equal keys give equal fingerprints; the key cannot be read back."""
    return hmac.new(secret_key.encode(), FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


_in_process = threading.Lock()  # SQLite, or two Services of one process: the advisory lock is per connection


@contextmanager
def migration_lock(db: Database) -> Iterator[None]:
    """Held around the migrations and the key check: on PostgreSQL a session advisory lock on its own connection
    (released when that connection closes, also if the process dies), in-process a plain lock."""
    with _in_process:
        if db.is_sqlite:
            yield
            return
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level='AUTOCOMMIT')
            got = conn.execute(sa.text('SELECT pg_try_advisory_lock(:id)'), {'id': MIGRATION_LOCK_ID}).scalar()
            if not got:
                log.info('another replica is migrating the database: waiting for it')
                conn.execute(sa.text('SELECT pg_advisory_lock(:id)'), {'id': MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                conn.execute(sa.text('SELECT pg_advisory_unlock(:id)'), {'id': MIGRATION_LOCK_ID})


def check_secret_key(db: Database, secret_key: str, *, rotate: bool = False) -> None:
    """Record this key's fingerprint on the first start; refuse (ConfigError) a key that differs from the recorded
    one, unless `rotate` (NANOGEN_SECRET_KEY_ROTATE) says the change is on purpose."""
    mine = key_fingerprint(secret_key)
    with db.engine.begin() as conn:
        conn.execute(sa.text('INSERT INTO cluster_facts (name, value, updated_at) VALUES (:n, :v, CURRENT_TIMESTAMP) '
                             'ON CONFLICT (name) DO NOTHING'), {'n': FINGERPRINT_FACT, 'v': mine})
        stored = conn.execute(sa.text('SELECT value FROM cluster_facts WHERE name = :n'),
                              {'n': FINGERPRINT_FACT}).scalar_one()
        if hmac.compare_digest(stored, mine):
            return
        if rotate:
            conn.execute(sa.text('UPDATE cluster_facts SET value = :v, updated_at = CURRENT_TIMESTAMP WHERE name = :n'),
                         {'n': FINGERPRINT_FACT, 'v': mine})
            log.warning('NANOGEN_SECRET_KEY_ROTATE: this database now expects the new secret key (fingerprint %s); '
                        'existing sessions and share links are void, and replicas on the old key will refuse to start',
                        mine[:12])
            return
    raise ConfigError(
        f'NANOGEN_SECRET_KEY is not the key this database was first started with (its fingerprint {stored[:12]}, '
        f"this process's {mine[:12]}): every replica must use the same key, or sessions, share links and provider "
        'callbacks fail across them. Set the same NANOGEN_SECRET_KEY everywhere; to change the key on purpose, '
        'start one replica once with NANOGEN_SECRET_KEY_ROTATE=true')


@dataclass
class _Held:
    fd: int
    count: int


_held: dict[Path, _Held] = {}
_held_guard = threading.Lock()


class DataDirLock:
    """An exclusive OS lock (flock) on `<data dir>/nanogen.lock` for the process's life. Re-entrant within one
    process (tests build one app after another, or two Services at once, on one dir): counted per dir, released when
    the last holder releases it; the kernel releases it when the process exits, also on kill -9."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir.resolve() / LOCK_FILE
        self._mine = False

    def acquire(self) -> DataDirLock:
        with _held_guard:
            held = _held.get(self.path)
            if held is not None:
                held.count += 1
                self._mine = True
                return self
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_owner(fd)
                os.close(fd)
                raise ConfigError(
                    f'another nanogen process{owner} is already running on the data dir {self.path.parent} with '
                    'SQLite: stop it first, give this one its own NANOGEN_DATA_DIR, or use PostgreSQL '
                    '(NANOGEN_DATABASE_URL) to run several replicas') from None
            os.ftruncate(fd, 0)
            os.write(fd, f'{os.getpid()}\n'.encode())
            _held[self.path] = _Held(fd, 1)
            self._mine = True
            return self

    def release(self) -> None:
        with _held_guard:
            if not self._mine:
                return
            self._mine = False
            held = _held.get(self.path)
            if held is None:
                return
            held.count -= 1
            if held.count == 0:
                del _held[self.path]
                os.close(held.fd)  # closing the last descriptor drops the flock


def _read_owner(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode(errors='replace').strip()
    except OSError:
        return ''
    return f' (pid {pid})' if pid.isdigit() else ''
