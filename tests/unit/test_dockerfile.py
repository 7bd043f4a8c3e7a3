"""The Dockerfile, read as Docker would (no engine needed): writable paths for uid 10001 and a layered install."""

from __future__ import annotations

import inspect
import re
import shlex
from pathlib import Path

import nicegui.storage

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    text = re.sub(r'\\\n', ' ', (ROOT / 'Dockerfile').read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith('#')]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def env() -> dict[str, str]:
    values: dict[str, str] = {}
    for name, args in instructions():
        if name == 'ENV':
            values.update(part.split('=', 1) for part in shlex.split(args))
    return values


def test_nicegui_storage_lives_under_data() -> None:
    """Issue 12 finding 3: NiceGUI wrote its per-browser storage to .nicegui/ under /app, unwritable by uid 10001."""
    assert 'NICEGUI_STORAGE_PATH' in inspect.getsource(nicegui.storage), 'NiceGUI no longer reads this variable'
    values = env()
    assert values['NANOGEN_DATA_DIR'] == '/data'
    assert values.get('NICEGUI_STORAGE_PATH', '').startswith('/data/'), 'NiceGUI storage must be under /data'
    steps = instructions()
    assert ('USER', 'nanogen') in steps
    assert any(name == 'RUN' and '--uid 10001' in args and 'chown -R nanogen:nanogen /data' in args
               for name, args in steps), '/data (and what is under it) must belong to uid 10001'


def test_dependencies_are_installed_before_the_sources_are_copied() -> None:
    """Issue 12 finding 3: a source change reinstalled every dependency (one COPY of everything, then pip install)."""
    steps = instructions()
    copies = [(i, args) for i, (name, args) in enumerate(steps) if name == 'COPY']
    deps = [i for i, (name, args) in enumerate(steps) if name == 'RUN' and 'pip install' in args and '-r ' in args]
    package = [i for i, (name, args) in enumerate(steps) if name == 'RUN' and 'pip install' in args
               and '--no-deps' in args]
    assert len(deps) == 1 and len(package) == 1, 'one dependency install, then one package install with --no-deps'
    before = [args for i, args in copies if i < deps[0]]
    assert before == ['pyproject.toml ./'], f'only pyproject.toml may be copied before the dependencies: {before}'
    assert "['project']['dependencies']" in steps[deps[0]][1], 'the dependency list comes from pyproject.toml'
    sources = [i for i, args in copies if re.search(r'\b(nanogen|pages|app\.py)\b', args)]
    assert sources and min(sources) > deps[0] and max(sources) < package[0]


def test_readme_says_how_the_image_starts_and_what_a_bind_mount_needs() -> None:
    """Issue 12 finding 3: the README did not say the image starts in development mode, nor who must own /data."""
    docker = (ROOT / 'README.md').read_text().split('## Docker', 1)[1]
    assert 'development mode' in docker and 'NANOGEN_ENV=production' in docker
    assert 'bind mount' in docker and 'writable by uid 10001' in docker
