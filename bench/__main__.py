"""`python -m bench`: run every benchmark in turn (each also runs alone: `python -m bench.<name>`)."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time

from bench.common import ROOT

BENCHMARKS = ('overhead', 'pipeline', 'gallery', 'capacity', 'memory', 'storage_outage', 'recovery', 'team_search',
              'fairness')


def summary(name: str) -> str:
    """The first line of a benchmark's docstring, read without importing it (imports pull in the whole app)."""
    doc = ast.get_docstring(ast.parse((ROOT / 'bench' / f'{name}.py').read_text())) or ''
    return doc.split('\n', 1)[0]


def parser() -> argparse.ArgumentParser:
    listing = '\n'.join(f'  {name:<16}{summary(name)}' for name in BENCHMARKS)
    args = argparse.ArgumentParser(
        prog='python -m bench', formatter_class=argparse.RawDescriptionHelpFormatter,
        description='Run the benchmarks, each in its own process (all of them when none is named).',
        epilog=f'benchmarks:\n{listing}\n\nEach one takes its own options: python -m bench.<name> --help. '
               'Figures and targets: docs/benchmarks.md.')
    # No `choices`: with nargs='*' argparse rejects an empty list against them on Python 3.11.
    args.add_argument('names', nargs='*', metavar='name', help='benchmarks to run (default: all, see below)')
    args.add_argument('--list', action='store_true', help='list the benchmarks and exit')
    return args


def main(argv: list[str]) -> int:
    args = parser()
    options = args.parse_args(argv)
    if unknown := [name for name in options.names if name not in BENCHMARKS]:
        args.error(f'unknown benchmark {", ".join(unknown)} (choose from {", ".join(BENCHMARKS)})')
    if options.list:
        sys.stdout.write(''.join(f'{name}\t{summary(name)}\n' for name in BENCHMARKS))
        return 0
    chosen = options.names or list(BENCHMARKS)
    failed = []
    for name in chosen:
        started = time.monotonic()
        sys.stdout.write(f'\n=== bench.{name} ===\n')
        sys.stdout.flush()
        code = subprocess.call([sys.executable, '-m', f'bench.{name}'], cwd=ROOT)  # one process each: clean memory
        sys.stdout.write(f'=== bench.{name}: exit {code} in {time.monotonic() - started:.0f} s ===\n')
        if code:
            failed.append(name)
    if failed:
        sys.stdout.write(f'failed: {", ".join(failed)}\n')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
