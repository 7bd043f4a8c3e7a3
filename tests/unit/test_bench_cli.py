"""`python -m bench` answers --help and --list instead of running a benchmark named after the flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, '-m', 'bench', *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_help_prints_usage_and_every_benchmark_without_running_any() -> None:
    """Issue 12 finding 4: `python -m bench --help` tried to run a benchmark named `--help`."""
    done = _bench('--help')
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith('usage: python -m bench')
    assert '=== bench.' not in done.stdout, 'a benchmark was started'
    for name in BENCHMARKS:
        assert f'  {name} ' in done.stdout, f'{name} missing from the help'


def test_list_names_every_benchmark_and_an_unknown_name_is_refused() -> None:
    """Issue 12 finding 4: `--list` prints the benchmarks; a typo is an error, not a failed run."""
    listed = _bench('--list')
    assert listed.returncode == 0, listed.stderr
    assert [line.split('\t')[0] for line in listed.stdout.splitlines()] == list(BENCHMARKS)
    typo = _bench('overhed')
    assert typo.returncode == 2
    assert 'unknown benchmark overhed' in typo.stderr and '=== bench.' not in typo.stdout
