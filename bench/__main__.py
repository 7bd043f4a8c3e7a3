"""`python -m bench`: run every benchmark in turn (each also runs alone: `python -m bench.<name>`)."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import ROOT

BENCHMARKS = ('overhead', 'pipeline', 'gallery', 'capacity', 'storage_outage')


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
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
