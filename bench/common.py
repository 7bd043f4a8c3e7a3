"""Shared bits of the benchmarks: percentiles, the machine's description, and printing/saving results."""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'bench' / 'results'
if str(ROOT) not in sys.path:  # `python bench/x.py` as well as `python -m bench.x`
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); honest for small samples."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {'n': len(ms), 'p50_ms': round(percentile(ms, 50), 1), 'p95_ms': round(percentile(ms, 95), 1),
            'p99_ms': round(percentile(ms, 99), 1), 'max_ms': round(max(ms), 1) if ms else float('nan'),
            'mean_ms': round(statistics.fmean(ms), 1) if ms else float('nan')}


def machine() -> dict[str, Any]:
    cpu = 'unknown'
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = 0.0
    try:
        for line in Path('/proc/meminfo').read_text().splitlines():
            if line.startswith('MemTotal'):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {'cpu': cpu, 'cores': os.cpu_count(), 'memory_gib': mem_gib, 'python': platform.python_version(),
            'platform': platform.platform()}


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def verdict(value: float, target: float) -> str:
    return 'PASS' if value <= target else 'MISS'


def report(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Print the figures and keep them in bench/results/<name>.json (with the machine they came from)."""
    # The load average says how shared the machine was while the figures were taken.
    result = {'benchmark': name, 'machine': machine(), 'load_average_1_5_15': os.getloadavg(),
              'finished_at': time.strftime('%Y-%m-%d %H:%M:%S %Z'), **figures}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f'{name}.json').write_text(json.dumps(result, indent=2, default=str) + '\n')
    sys.stdout.write(json.dumps(result, indent=2, default=str) + '\n')
    return result


def quiet_logs() -> None:
    """Benchmarks print figures, not the app's INFO lines (warnings and errors still show)."""
    logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(name)s: %(message)s')
    for name in ('nanogen', 'uvicorn', 'httpx', 'alembic'):
        logging.getLogger(name).setLevel(logging.WARNING)
