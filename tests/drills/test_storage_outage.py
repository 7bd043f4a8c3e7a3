"""Drill: the image store fails for a while; generations wait for it, then finish, and nothing is lost."""

from __future__ import annotations

import os
import time
from pathlib import Path

from nanogen.errors import StorageError
from nanogen.generation.requests import validate_request
from nanogen.images.storage import LocalStorage
from nanogen.models import Status
from tests.conftest import make_settings
from tests.drills.conftest import DRILL_PROMPT, add_user, assert_not_double_billed, wait_all_ended

# 5 s in CI; `NANOGEN_DRILL_STORAGE_OUTAGE=30 python -m pytest tests/drills/test_storage_outage.py` proves the
# 30 s case (the service keeps retrying puts for STORAGE_RETRY_WINDOW_S = 120 s).
OUTAGE_S = float(os.environ.get('NANOGEN_DRILL_STORAGE_OUTAGE', '5'))


class FlakyStorage(LocalStorage):
    """Local disk that refuses every put (as an unreachable S3 would) until `down_until` has passed."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.down_until = 0.0
        self.refused = 0

    async def put(self, key: str, data: bytes, *, content_type: str, **kw: object) -> None:
        if time.monotonic() < self.down_until:
            self.refused += 1
            raise StorageError('The image store is not responding. Please try again in a moment.',
                               detail=f'put {key}: drill outage')
        await super().put(key, data, content_type=content_type, **kw)  # type: ignore[arg-type]


async def test_generations_wait_out_a_storage_outage_and_all_complete(fake, make_services, isolated_env: Path) -> None:
    provider, url = fake
    provider.config.latency_s, provider.config.send_callbacks = 0.2, False
    storage = FlakyStorage(isolated_env / 'images')
    settings = make_settings(isolated_env, f'sqlite:///{isolated_env}/drill.db', url,
                             NANOGEN_MAX_CONCURRENT_PER_USER=50)
    services = await make_services(settings, storage=storage)
    uid = await add_user(services)
    storage.down_until = time.monotonic() + OUTAGE_S
    ids = [(await services.generation.create(uid, validate_request(prompt=DRILL_PROMPT, size=512))).id
           for _ in range(10)]

    rows = await wait_all_ended(services, ids, timeout=OUTAGE_S + 45)

    assert storage.refused >= 10  # every generation met the outage
    assert time.monotonic() >= storage.down_until  # none could finish while the store was down
    assert [r.status for r in rows] == [Status.COMPLETED.value] * 10, [r.error_message for r in rows]
    images = [i for pid in ids for i in await services.library.images_of_prompt(uid, pid)]
    assert len(images) == 10
    for image in images:
        for key in (image.key, image.original_key, image.thumb_key):
            assert await storage.exists(key)
    assert provider.submissions == 10
    assert_not_double_billed(services, provider, rows)
