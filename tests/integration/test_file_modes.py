"""Files holding secrets or user data are owner-only from the moment they exist."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanogen.config import Settings
from nanogen.db import Database


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the common default: files come out world-readable unless created otherwise
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_dev_secret_key_file_is_created_0600(tmp_path: Path, loose_umask: None, monkeypatch) -> None:
    """Issue 11 finding 17: the generated key is never written under the default umask and chmod'ed later."""
    opened: list[tuple[str, int]] = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *a, **kw):
        opened.append((str(path), mode))
        return real_open(path, flags, mode, *a, **kw)
    monkeypatch.setattr(os, 'open', spy)
    settings = Settings(NANOGEN_DATA_DIR=str(tmp_path / 'data'))
    key = settings.resolve_secret_key()
    path = tmp_path / 'data' / 'secret_key'
    assert mode(path) == 0o600 and path.read_text() == key
    assert (str(path), 0o600) in opened  # created with the mode, not chmod'ed after a readable moment
    assert settings.resolve_secret_key() == key  # read back on the next start


def test_the_sqlite_database_and_its_wal_files_are_0600(tmp_path: Path, loose_umask: None) -> None:
    """Issue 11 finding 17: nanogen.db, nanogen.db-wal and nanogen.db-shm are owner-only."""
    path = tmp_path / 'data' / 'nanogen.db'
    db = Database(f'sqlite:///{path}')
    try:
        db.migrate()
        db.ping()
        files = [path, path.with_name('nanogen.db-wal'), path.with_name('nanogen.db-shm')]
        assert all(f.exists() for f in files)
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        db.dispose()
