"""CPython's garbage collector, tuned for a process that holds many open tabs (issue 18).

Measured in `bench.capacity` at 200 tabs and 1,000 generations (docs/benchmarks.md): full collections ran about
30 times in 380 s, 1.9-2.4 s each: the event loop stops for that long. `gc.freeze()` once the app has started
moves everything alive then (modules, routes, the services: ~284,000 objects) out of the collector's
generations, so no full collection scans it again: the full collections' average fell from 2.4 s to 1.9 s and the
longest from 3.6 s to 2.8 s. A larger young generation was tried and left out: fewer, longer full collections
(one of 7.7 s, and 940 MB of uncollected garbage before it).

After that, each full collection's survivors are frozen as well (`SurvivorFreeze`): with 200 tabs open they are
~750,000 objects, nearly all of them the open tabs' elements, and every full collection walked them again, stopping
the loop for 0.3-0.6 s each time (19 in a 170 s run). Frozen, the next full collection scans only what arrived
since: full collections now take under 45 ms. Cycles that die while frozen (a closed tab's page objects) are freed
by one full collection that scans everything again, every `NANOGEN_GC_FULL_SCAN` seconds (300): one pause of up to
~1 s per period instead of several a minute. The price would be memory: that garbage waits for the whole scan (it
was +60 MB at 200 tabs, nearly all closed tabs' pages; pages/_free.py now frees those by reference counting, and
a level-200 run ends with a few hundred cyclic objects). A 60 s or 120 s period kept less
garbage but put one or two of those long pauses into the busy minutes, and "page told" p99 rose to 570-750 ms.

`NANOGEN_GC_FREEZE=false` leaves the collector as Python starts it.

glibc's malloc arenas: with many threads (DB, storage, HTTP) glibc keeps up to 8 arenas per core, memory it rarely
gives back. The Docker image sets `MALLOC_ARENA_MAX=2`; `python app.py` applies the same limit itself at start
(`mallopt`), unless MALLOC_ARENA_MAX is set (glibc has then read it already).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def freeze_startup(enabled: bool, full_scan_s: float = 0) -> bool:
    """Move every object alive now to the collector's permanent generation, and from now on each full collection's
    survivors (`full_scan_s` > 0: see SurvivorFreeze); False (nothing done) when disabled."""
    if not enabled:
        log.info('garbage collector: left as Python starts it (NANOGEN_GC_FREEZE=false)')
        return False
    gc.freeze()
    log.info('garbage collector: %d start-up objects frozen', gc.get_freeze_count())
    if full_scan_s > 0:
        SurvivorFreeze(full_scan_s).install()
        log.info('garbage collector: survivors of full collections frozen; everything scanned every %g s',
                 full_scan_s)
    return True


class SurvivorFreeze:
    """A `gc.callbacks` hook: when a full (generation 2) collection stops, everything left is what survived it (the
    younger generations were collected with it), so `gc.freeze()` then takes no garbage along; the next full
    collection scans only objects made since. Once `full_scan_s` has passed since the last whole scan, it unfreezes
    instead, so the next full collection scans (and frees) everything, frozen cycles included."""

    def __init__(self, full_scan_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.full_scan_s = full_scan_s
        self.clock = clock
        self.last_whole_scan = clock()
        self.unfrozen = False  # the next full collection scans everything
        self.whole_scans = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != 'stop' or info.get('generation') != 2:
            return
        now = self.clock()
        if self.unfrozen:  # this one scanned everything
            self.unfrozen = False
            self.last_whole_scan = now
            self.whole_scans += 1
        if now - self.last_whole_scan >= self.full_scan_s:
            gc.unfreeze()
            self.unfrozen = True
        else:
            gc.freeze()

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)


def limit_malloc_arenas(environ: Mapping[str, str] = os.environ) -> bool:
    """At most ARENAS glibc malloc arenas for the threads started from now on; False when not applied (not glibc,
    or MALLOC_ARENA_MAX already chose)."""
    if not sys.platform.startswith('linux') or 'MALLOC_ARENA_MAX' in environ:
        return False
    try:
        applied: bool = ctypes.CDLL(None).mallopt(M_ARENA_MAX, ARENAS) == 1
    except (OSError, AttributeError):  # a libc without mallopt (musl)
        return False
    if applied:
        log.info('malloc arenas: at most %d (MALLOC_ARENA_MAX unset)', ARENAS)
    return applied
