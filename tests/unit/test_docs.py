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
    command = 'python -m pytest'
    assert f'pip install -e ".[test]" && {command}' in README
    assert re.search(rf'^{re.escape(command)}\s*$', ci, flags=re.M), '.ci/run must call the README test command'


def test_readme_has_the_run_command_and_a_screenshot() -> None:
    assert 'pip install -e . && python app.py' in README
    shot = re.search(r'!\[[^\]]*\]\(([^)]+\.png)\)', README)
    assert shot and (ROOT / shot.group(1)).exists(), 'the README screenshot file is missing'
