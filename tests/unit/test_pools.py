"""The bounded pools for blocking work: DB, storage and Pillow never share one, and Pillow runs in another process."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from nanogen import pools
from nanogen.config import Settings
from nanogen.errors import ImageError
from nanogen.images import pipeline as imaging


def _pid() -> int:
    return os.getpid()


def _thread_name() -> str:
    return threading.current_thread().name


def _die() -> None:
    os._exit(3)  # what an out-of-memory kill looks like to the pool


@pytest.fixture
def sized() -> Iterator[pools.Pools]:
    yield pools.configure(pools.PoolSizes(db_threads=2, storage_threads=3, image_workers=1))
    pools.shutdown()


def test_settings_name_the_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('NANOGEN_IMAGE_WORKERS', '0')
    monkeypatch.setenv('NANOGEN_DB_THREADS', '4')
    settings = Settings()
    assert (settings.image_workers, settings.db_threads, settings.storage_threads) == (0, 4, 6)
    monkeypatch.setenv('NANOGEN_DB_THREADS', '0')
    with pytest.raises(ValueError):
        Settings()


async def test_each_kind_of_work_has_its_own_bounded_pool(sized: pools.Pools) -> None:
    assert (await pools.in_db(_thread_name)).startswith('nanogen-db')
    assert (await pools.in_storage(_thread_name)).startswith('nanogen-storage')
    assert sized.db._max_workers == 2 and sized.storage._max_workers == 3


async def test_pillow_runs_in_a_worker_process_and_its_errors_come_back(sized: pools.Pools) -> None:
    assert await pools.in_images(_pid) != os.getpid()
    with pytest.raises(ImageError) as caught:
        await pools.in_images(imaging.decode, b'<html>', max_bytes=1000, max_pixels=1000)
    assert caught.value.user_message == 'The provider returned something that is not an image.'
    assert caught.value.detail  # the log detail survives the trip between processes


async def test_a_dead_image_worker_is_replaced(sized: pools.Pools) -> None:
    with pytest.raises(pools.BrokenProcessPool):
        await pools.in_images(_die)
    assert await pools.in_images(_pid) != os.getpid()


async def test_zero_image_workers_means_one_thread_in_process() -> None:
    pools.configure(pools.PoolSizes(image_workers=0))
    try:
        assert await pools.in_images(_pid) == os.getpid()
        assert (await pools.in_images(_thread_name)).startswith('nanogen-images')
    finally:
        pools.shutdown()


async def test_a_stopped_pool_is_built_again_on_next_use(sized: pools.Pools) -> None:
    await pools.in_db(_pid)
    pools.shutdown()
    assert (await pools.in_db(_thread_name)).startswith('nanogen-db')


def test_warm_starts_the_image_workers_before_the_first_image(sized: pools.Pools) -> None:
    sized.warm()  # start-up calls it off the loop: the fork server's Pillow import never holds the loop
    images = sized.images
    assert isinstance(images, pools.ProcessPoolExecutor) and len(images._processes) == 1


async def test_an_uploaded_sheet_is_read_in_the_image_worker(sized: pools.Pools, monkeypatch: pytest.MonkeyPatch) -> None:
    """openpyxl holds the GIL for a second on a big sheet: the Batch tab and the API read it in the worker process.
    The web process's own reader is replaced by one that fails, which the worker (another process) never sees."""
    import io

    import openpyxl

    from nanogen.batches import inputs
    from nanogen.errors import InvalidInput

    book = openpyxl.Workbook()
    book.active.append(['prompt', 'size'])
    book.active.append(['a "quoted" lamp', 768])
    data = io.BytesIO()
    book.save(data)

    def on_the_loop(*_: object, **__: object) -> None:
        raise AssertionError('parsed in the web process')
    monkeypatch.setattr(inputs, 'from_xlsx', on_the_loop)
    rows = await inputs.parse_sheet('sheet.xlsx', data.getvalue(), max_rows=10)
    assert [(r.prompt, r.size) for r in rows] == [('a "quoted" lamp', '768')]
    with pytest.raises(InvalidInput, match='must be UTF-8'):  # the worker's error comes back with its message
        await inputs.parse_sheet('rows.csv', b'prompt\n\xff\xfe bad', max_rows=10)
