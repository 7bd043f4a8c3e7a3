"""CPython's garbage collector, tuned for a process that holds many open tabs (issue 18).

Measured in `bench.capacity` at 200 tabs and 1,000 generations (docs/benchmarks.md): full collections ran about
30 times in 380 s, 1.9-2.4 s each: the event loop stops for that long. `gc.freeze()` once the app has started
moves everything alive then (modules, routes, the services: ~284,000 objects) out of the collector's
generations, so no full collection scans it again: the full collections' average fell from 2.4 s to 1.9 s and the
longest from 3.6 s to 2.8 s. A larger young generation was tried and left out: fewer, longer full collections
(one of 7.7 s, and 940 MB of uncollected garbage before it).

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
from collections.abc import Mapping

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's malloc.h
ARENAS = 2


def freeze_startup(enabled: bool) -> bool:
    """Move every object alive now to the collector's permanent generation; False (nothing done) when disabled."""
    if not enabled:
        log.info('garbage collector: left as Python starts it (NANOGEN_GC_FREEZE=false)')
        return False
    gc.freeze()
    log.info('garbage collector: %d start-up objects frozen', gc.get_freeze_count())
    return True


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
