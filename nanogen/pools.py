"""Named, bounded executors for blocking work: the database, storage and Pillow each get their own pool.

asyncio's default thread pool (~6 threads on 2 cores) was shared by DB calls, boto3 and Pillow, so one slow kind of
work queued the others behind it, and Pillow in threads held the GIL the event loop needs (issue 18). Pillow now runs
in worker processes (`NANOGEN_IMAGE_WORKERS`, 0 = one dedicated thread instead, for tests and tiny installs); the DB
and storage get thread pools of their own sizes. The pools are process-wide: `configure()` at start-up,
`shutdown()` at stop; before `configure()` (unit tests, tools) each pool is created on first use with the defaults.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)
P = ParamSpec('P')
T = TypeVar('T')
_lock = threading.Lock()
_main_lock = threading.RLock()  # one hide/restore of __main__ at a time (start-up warms from a thread)


@dataclass(frozen=True)
class PoolSizes:
    """How many of each: DB threads, storage threads, Pillow worker processes (0: one Pillow thread)."""

    db_threads: int = 6
    storage_threads: int = 6
    image_workers: int = 1


class Pools:
    """The three executors; built lazily, so a process that never decodes an image starts no image worker."""

    def __init__(self, sizes: PoolSizes) -> None:
        self.sizes = sizes
        self._db: ThreadPoolExecutor | None = None
        self._storage: ThreadPoolExecutor | None = None
        self._images: Executor | None = None

    @property
    def db(self) -> ThreadPoolExecutor:
        with _lock:
            if self._db is None:
                self._db = ThreadPoolExecutor(self.sizes.db_threads, thread_name_prefix='nanogen-db')
            return self._db

    @property
    def storage(self) -> ThreadPoolExecutor:
        with _lock:
            if self._storage is None:
                self._storage = ThreadPoolExecutor(self.sizes.storage_threads, thread_name_prefix='nanogen-storage')
            return self._storage

    @property
    def images(self) -> Executor:
        with _lock:
            if self._images is None:
                self._images = _image_executor(self.sizes.image_workers)
            return self._images

    def replace_broken_images(self) -> None:
        """A worker process died (killed, out of memory): the next image gets a fresh pool (once, however many
        calls saw it break)."""
        with _lock:
            broken = self._images
            if broken is None or not getattr(broken, '_broken', False):
                return
            self._images = None
        broken.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> None:
        """Start the image worker processes now (blocking: call it off the event loop), so the first image does
        not wait for the fork server to import Pillow while the loop is held."""
        images = self.images
        if not isinstance(images, ProcessPoolExecutor):
            return
        try:
            with _main_not_rerun():
                futures = [images.submit(int) for _ in range(self.sizes.image_workers)]
            for future in futures:
                future.result()
        except (RuntimeError, CancelledError, BrokenProcessPool) as exc:  # stopped meanwhile: the first image starts one
            log.info('image workers not warmed: %s', type(exc).__name__)

    def shutdown(self) -> None:
        with _lock:
            executors = [e for e in (self._images, self._storage, self._db) if e is not None]
            self._db = self._storage = self._images = None
        for executor in executors:
            # Work already running finishes (a store, a DB write); nothing new starts.
            executor.shutdown(wait=False, cancel_futures=False)


def _image_executor(workers: int) -> Executor:
    if workers <= 0:
        return ThreadPoolExecutor(1, thread_name_prefix='nanogen-images')
    # forkserver: the workers are forked from a small clean process, never from this one (its threads, its
    # sockets, NiceGUI's state); the server preloads Pillow and the pipeline once.
    context = multiprocessing.get_context('forkserver')
    context.set_forkserver_preload(['nanogen.images.pipeline'])
    return ProcessPoolExecutor(workers, mp_context=context, initializer=exit_with_app, initargs=(os.getpid(),))


_pools = Pools(PoolSizes())


def configure(sizes: PoolSizes) -> Pools:
    """At start-up: the sizes from the settings (an earlier set of pools with other sizes is shut down)."""
    global _pools
    if sizes != _pools.sizes:
        old, _pools = _pools, Pools(sizes)
        old.shutdown()
    return _pools


def current() -> Pools:
    return _pools


def shutdown() -> None:
    """At stop; a later use builds the pools again (tests start and stop many apps in one process)."""
    _pools.shutdown()


async def in_db(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work on the DB threads."""
    return await _run(lambda: _pools.db, fn, *args, **kwargs)


async def in_storage(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking storage work (disk, boto3) on the storage threads."""
    return await _run(lambda: _pools.storage, fn, *args, **kwargs)


async def in_images(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run Pillow work in the image worker processes; `fn` and its arguments must pickle (module-level functions,
    bytes, plain values). Exceptions it raises come back as themselves (ImageError keeps its message)."""
    pools = _pools
    for attempt in (1, 2):
        try:
            return await _run(lambda: pools.images, fn, *args, **kwargs)
        except BrokenProcessPool:
            log.warning('image worker process died; starting a new one (attempt %d)', attempt)
            pools.replace_broken_images()
            if attempt == 2:
                raise
    raise AssertionError('unreachable')


async def _run(executor: Callable[[], Executor], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    call = functools.partial(fn, *args, **kwargs) if kwargs else functools.partial(fn, *args)
    for attempt in (1, 2):
        pool = executor()
        try:
            if isinstance(pool, ProcessPoolExecutor):  # only a process pool may start a process in submit
                with _main_not_rerun():
                    future = pool.submit(call)
            else:  # the DB and storage threads: no lock, no __main__ juggling on every call
                future = pool.submit(call)
        except RuntimeError:  # shut down a moment ago by a stop(): the next use builds a fresh pool
            if attempt == 2:
                raise
            continue
        return await asyncio.wrap_future(future)
    raise AssertionError('unreachable')


@contextmanager
def _main_not_rerun() -> Iterator[None]:
    """While a worker process may be started (inside submit): multiprocessing would re-run the main script in the
    child (`python app.py` would build and serve a second app there). Without a path or module name for __main__,
    the child imports only what the pickled call needs."""
    main = sys.modules.get('__main__')
    if main is None:
        yield
        return
    with _main_lock:
        saved: dict[str, Any] = {k: main.__dict__[k] for k in ('__file__', '__spec__') if k in main.__dict__}
        try:
            main.__dict__.pop('__file__', None)
            main.__dict__['__spec__'] = None
            yield
        finally:
            main.__dict__.pop('__spec__', None)
            main.__dict__.update(saved)


def exit_with_app(app_pid: int, interval_s: float = 1.0) -> None:
    """An image worker's initializer: the worker ends once the app process is gone, even killed (kill -9, the OOM
    killer), when nothing tells the pool to stop. Without it each such worker (and the idle process it was forked
    from) stayed behind on a machine without a container or systemd to reap it. A daemon thread checks every
    `interval_s` whether the app still runs."""

    def watch() -> None:
        while _alive(app_pid):
            time.sleep(interval_s)
        os._exit(0)
    threading.Thread(target=watch, name='nanogen-exit-with-app', daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's: cannot be ours, but not gone either
        return True
    return True
