"""The README documents every setting and the commands CI runs (docs checked by tests)."""

from __future__ import annotations

import re
from pathlib import Path

from nanogen.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / 'README.md').read_text()


def test_every_setting_is_in_the_readme_table() -> None:
    documented = set(re.findall(r'^\| `([A-Z0-9_]+)` \|', README, flags=re.M))
    names = {f.validation_alias.choices[0] for f in Settings.model_fields.values()}  # type: ignore[union-attr]
    assert names - documented == set(), 'settings missing from the README table'
    assert documented - names == set(), 'README documents settings that do not exist'


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / '.ci' / 'run').read_text()
    command = 'scripts/check'
    assert f'pip install -e ".[test]" && {command}' in README
    assert re.search(rf'^{re.escape(command)}\s*$', ci, flags=re.M), '.ci/run must call the README test command'


def test_readme_has_the_run_command_and_a_screenshot() -> None:
    assert 'pip install -e . && python app.py' in README
    shot = re.search(r'!\[[^\]]*\]\(([^)]+\.png)\)', README)
    assert shot and (ROOT / shot.group(1)).exists(), 'the README screenshot file is missing'


def _relative_links(text: str) -> list[str]:
    """Markdown link and image targets that are not URLs or in-page anchors (code blocks and spans excluded)."""
    text = re.sub(r'^```.*?^```', '', text, flags=re.M | re.S)
    text = re.sub(r'`[^`\n]*`', '', text)
    targets = [m.split()[0] if m.strip() else m for m in re.findall(r'\]\(([^)]*)\)', text)]
    return [t for t in targets if not re.match(r'^([a-z][a-z0-9+.-]*:|#)', t, flags=re.I)]


def test_docs_links_stay_inside_the_repository_and_resolve() -> None:
    """Issue 12 finding 1: the README linked the wire contract as ../shared/…, broken in any clone."""
    documents = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
    checked = 0
    for document in documents:
        for target in _relative_links(document.read_text()):
            path = (document.parent / target.split('#', 1)[0]).resolve()
            where = f'{document.relative_to(ROOT)} links {target!r}'
            assert path.is_relative_to(ROOT), f'{where}, outside the repository'
            assert path.is_file(), f'{where}, which does not exist'
            checked += 1
    assert checked >= 4, 'the link scan found too few links: is the pattern broken?'
    assert '(docs/nanobanana-api.md)' in README, 'the README links the project copy of the wire contract'


def test_readme_says_how_long_the_test_command_takes() -> None:
    """Issue 12: the README says how long the test command takes on 2 cores, next to the command."""
    line = next(line for line in README.splitlines() if 'pip install -e ".[test]" && scripts/check' in line)
    assert re.search(r'\d+(\.\d+)? min on 2 (busy )?cores', line), line


def test_ci_installs_haproxy_and_brings_up_postgresql() -> None:
    """Issue 12 finding 2: .ci/run set the PostgreSQL URL without a server behind it, and assumed `python`."""
    ci = (ROOT / '.ci' / 'run').read_text()
    assert re.search(r'apt_install chromium chromium-driver haproxy\b', ci)
    assert 'pg_isready -q -h 127.0.0.1' in ci and 'apt_install postgresql' in ci and 'pg_ctlcluster' in ci
    assert 'export CI="${CI:-true}"' in ci
    assert 'python3 -m venv .venv' in ci


def test_ci_brings_up_redis_for_the_shared_rate_limit_tests() -> None:
    """Issue 14 audit: under CI=true the Redis cases fail when nothing answers on 127.0.0.1:6379."""
    ci = (ROOT / '.ci' / 'run').read_text()
    assert 'apt_install redis-server' in ci and 'redis-server --bind 127.0.0.1 --port 6379' in ci
    assert ci.index('redis_ready || ') < ci.index('\nscripts/check')  # up before the tests run
