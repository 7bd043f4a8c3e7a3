"""From a finished provider task to stored objects: download each image, check and process it, put it in storage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nanogen import pools, retrying
from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import NanogenError, ProviderError, ProviderRejected, StorageError
from nanogen.images import pipeline as imaging
from nanogen.images.storage import Storage, object_key
from nanogen.library.deletes import delete_objects
from nanogen.models import Prompt
from nanogen.provider.client import NanobananaClient, TaskRecord

log = logging.getLogger(__name__)
STORAGE_RETRY_WINDOW_S = 120.0  # storage outages are usually short: hold the bytes and keep trying this long
STORAGE_PATIENCE = retrying.Backoff(1.0, 15.0)  # on top of the store's own quick retries

Keys = tuple[str, str, str]  # processed image, provider's original, thumbnail


class ResultSaver:
    def __init__(self, *, client: NanobananaClient, storage: Storage, db: Database, settings: Settings) -> None:
        self.client = client
        self.storage = storage
        self.db = db
        self.settings = settings

    async def process(self, prompt: Prompt, record: TaskRecord, *, limit: int | None = None,
                      download_slot: asyncio.Semaphore | None = None) -> list[imaging.ProcessedImage]:
        """Download and process every image of the task, at most `limit` (default: the prompt's count) (ProviderError
        / ImageError when one is unusable). `download_slot` (the provider connections) is held for each download
        only: Pillow's work waits for the image workers without keeping a connection slot from other steps."""
        count = min(max(len(record.result_urls), len(record.origin_urls)), limit or prompt.num_images)
        processed = []
        for n in range(count):
            if download_slot is None:
                data = await self._download(record, n)
            else:
                async with download_slot:
                    data = await self._download(record, n)
            processed.append(await pools.in_images(
                imaging.process, data, size=None if prompt.resolution else prompt.image_size, aspect_ratio=prompt.aspect_ratio,
                watermark=prompt.watermark, max_bytes=self.settings.download_max_bytes,
                max_pixels=self.settings.max_image_pixels))
        return processed

    async def store(self, prompt: Prompt, processed: list[imaging.ProcessedImage],
                    notify: Callable[[str], None], *, attempt: int = 1) -> list[Keys]:
        """Put every object under this finish attempt's own keys; on failure remove what was put (only this attempt's
        objects), so no row can point at a missing object."""
        assert prompt.id is not None
        keys: list[Keys] = []
        items: list[tuple[str, bytes, str]] = []
        for n, p in enumerate(processed):
            triple = (object_key(prompt.user_id, prompt.id, n, 'image', 'png', attempt=attempt),
                      object_key(prompt.user_id, prompt.id, n, 'original',
                                 imaging.extension_for(p.original_content_type), attempt=attempt),
                      object_key(prompt.user_id, prompt.id, n, 'thumb', 'webp', attempt=attempt))
            items += [(triple[0], p.image, p.content_type), (triple[1], p.original, p.original_content_type),
                      (triple[2], p.thumbnail, 'image/webp')]
            keys.append(triple)
        # The puts run side by side (each waits on the disk or the network, not the CPU): the page is told one put
        # later instead of three. All of them end before any cleanup, so a late put cannot land after its delete.
        outcomes = await asyncio.gather(*(self._put_with_patience(prompt, key, data, ctype, notify)
                                          for key, data, ctype in items), return_exceptions=True)
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            await delete_objects(self.db, self.storage, [key for key, _data, _ctype in items])
            storage_errors = [f for f in failures if isinstance(f, StorageError)]
            raise storage_errors[0] if storage_errors else failures[0]
        return keys

    async def discard(self, keys: list[Keys]) -> None:
        for triple in keys:
            await delete_objects(self.db, self.storage, triple)

    async def _download(self, record: TaskRecord, n: int) -> bytes:
        urls = [u for u in (record.result_urls[n:n + 1] + record.origin_urls[n:n + 1]) if u]
        last: NanogenError | None = None
        for url in urls:  # the service's copy first, then the short-lived upstream one
            try:
                return await self.client.download(url, max_bytes=self.settings.download_max_bytes)
            except ProviderError as exc:
                last = exc
        raise last or ProviderRejected('The provider sent no image address.')

    async def _put_with_patience(self, prompt: Prompt, key: str, data: bytes, ctype: str,
                                 notify: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + STORAGE_RETRY_WINDOW_S

        async def put() -> None:
            await self.storage.put(key, data, content_type=ctype)

        def before_sleep(state: retrying.RetryCallState) -> None:
            exc = retrying.failure(state)
            message = exc.user_message if isinstance(exc, StorageError) else str(exc)
            delay = state.upcoming_sleep
            log.warning('prompt %s: storage put failed (%s); retrying in %.0f s', prompt.id, message, delay)
            notify(f'{message} Retrying in {int(delay)} s.')

        retryer = retrying.retrying(retry_if=retrying.storage_failed, backoff=STORAGE_PATIENCE,
                                    deadline=lambda: give_up - loop.time(), before_sleep=before_sleep)
        await retryer(put)
