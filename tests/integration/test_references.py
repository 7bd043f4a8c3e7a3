"""Reference images: validation, where they are stored, and the URL the provider fetches (R2 presigned or signed)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from nanogen import pools
from nanogen.config import Settings
from nanogen.errors import ImageError, InvalidInput, NotFound
from nanogen.images.references import ReferenceStore
from nanogen.images.s3 import S3Storage
from nanogen.images.storage import LocalStorage
from tests.support.s3 import TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, moto_s3_server


@pytest.fixture
def pillow_in_this_process() -> Iterator[None]:
    """For the tests that spy on Pillow: its work on one in-process thread (NANOGEN_IMAGE_WORKERS=0), where a spy
    sees it; the app runs it in a worker process."""
    pools.configure(pools.PoolSizes(image_workers=0))
    yield
    pools.configure(pools.PoolSizes())
    pools.shutdown()


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', size, (10, 120, 200)).save(buf, format='PNG')
    return buf.getvalue()


def store(tmp_path: Path, **env: str) -> ReferenceStore:
    settings = Settings(NANOGEN_DATA_DIR=str(tmp_path), **env)  # type: ignore[arg-type]
    return ReferenceStore(storage=LocalStorage(tmp_path / 'images'), settings=settings, secret_key='k' * 40)


async def test_upload_is_re_encoded_and_served_back_through_a_signed_url(tmp_path: Path) -> None:
    refs = store(tmp_path, NANOBANANA_API_KEY='real', NANOGEN_PUBLIC_URL='https://studio.example.com')
    assert refs.available
    jpeg = io.BytesIO()
    Image.new('RGB', (50, 20), (1, 2, 3)).save(jpeg, format='JPEG')
    ref = await refs.save(7, jpeg.getvalue())
    assert ref.key.startswith('users/7/refs/') and ref.key.endswith('.png') and (ref.width, ref.height) == (50, 20)
    assert ref.preview.startswith('data:image/jpeg;base64,')
    url = await refs.url_for(7, ref.key)
    assert url.startswith('https://studio.example.com/refs/')
    data = await refs.open(url.rsplit('/', 1)[1])
    assert Image.open(io.BytesIO(data)).format == 'PNG'


async def test_bad_uploads_say_what_is_wrong_and_store_nothing(tmp_path: Path) -> None:
    refs = store(tmp_path)
    with pytest.raises(ImageError, match='not an image'):
        await refs.save(1, b'%PDF-1.7 not a picture')
    with pytest.raises(ImageError, match='empty'):
        await refs.save(1, b'')
    with pytest.raises(ImageError, match='too large'):
        await refs.save(1, png((9000, 9000))[:30] + b'\x00' * (11 * 1024 * 1024))
    assert await refs.storage.list_keys('users/') == []


async def test_urls_only_for_your_own_keys_and_tokens_are_checked(tmp_path: Path, monkeypatch) -> None:
    refs = store(tmp_path, NANOGEN_PUBLIC_URL='https://studio.example.com')
    ref = await refs.save(3, png())
    with pytest.raises(NotFound):
        await refs.url_for(4, ref.key)  # another user's reference
    with pytest.raises(NotFound):
        await refs.url_for(3, 'users/3/1/0.png')  # not a reference key
    token = (await refs.url_for(3, ref.key)).rsplit('/', 1)[1]
    with pytest.raises(NotFound):
        await refs.open(token[:-2] + 'xx')
    other = ReferenceStore(storage=refs.storage, settings=refs.settings, secret_key='x' * 40)
    with pytest.raises(NotFound):
        await other.open(token)  # signed with another key
    real_time = time.time
    monkeypatch.setattr(time, 'time', lambda: real_time() + 3601)
    with pytest.raises(NotFound, match='expired'):
        await refs.open(token)


async def test_without_public_url_presigning_or_demo_uploads_are_refused_with_the_reason(tmp_path: Path) -> None:
    refs = store(tmp_path, NANOBANANA_API_KEY='a-real-key')
    assert not refs.available
    with pytest.raises(InvalidInput, match='NANOGEN_PUBLIC_URL'):
        await refs.save(1, png())


async def test_with_r2_the_provider_gets_a_presigned_url_it_can_fetch(tmp_path: Path) -> None:
    with moto_s3_server() as endpoint:
        s3 = S3Storage(bucket='nanogen-refs', endpoint_url=endpoint, access_key_id=TEST_ACCESS_KEY_ID,
                       secret_access_key=TEST_SECRET_ACCESS_KEY, region=TEST_REGION)
        await s3.ensure_bucket()
        settings = Settings(NANOGEN_DATA_DIR=str(tmp_path), NANOBANANA_API_KEY='real')  # type: ignore[call-arg]
        refs = ReferenceStore(storage=s3, settings=settings, secret_key='k' * 40)
        assert refs.available  # no public URL needed
        ref = await refs.save(5, png())
        url = await refs.url_for(5, ref.key)
        assert url.startswith(endpoint)
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.content)).size == (40, 30)
        assert refs.key_of(url) == ref.key  # so a queued prompt's presigned URL can be signed anew
        [again] = await refs.refresh(5, (url,))
        async with httpx.AsyncClient() as http:
            assert (await http.get(again)).content == response.content
        s3.close()


async def test_a_reference_over_the_reference_pixel_limit_is_refused_from_its_header(
        tmp_path: Path, monkeypatch, pillow_in_this_process: None) -> None:
    """Issue 11 finding 6: references have their own, lower pixel limit (24 MP by default, below the 64 MP one for
    provider images), checked from the header: no pixel of a refused image is decoded."""
    refs = store(tmp_path, NANOBANANA_API_KEY='real', NANOGEN_PUBLIC_URL='https://studio.example.com')
    buf = io.BytesIO()
    Image.new('L', (6000, 5000)).save(buf, format='PNG')  # 30 MP of zeros: a tiny file
    assert len(buf.getvalue()) < 200_000
    loads: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def spy(self):
        loads.append(self.size)
        return real_load(self)
    monkeypatch.setattr(Image.Image, 'load', spy)
    with pytest.raises(ImageError, match='24 megapixels'):
        await refs.save(7, buf.getvalue())
    assert (6000, 5000) not in loads
    assert not list((tmp_path / 'images').rglob('*.png'))
    small = store(tmp_path, NANOBANANA_API_KEY='real', NANOGEN_PUBLIC_URL='https://x.example',
                  NANOGEN_REFERENCE_MAX_PIXELS='1000')
    with pytest.raises(ImageError, match='megapixels'):
        await small.save(7, png((40, 30)))  # 1200 px: over a limit set that low


async def test_a_large_jpeg_reference_is_decoded_downscaled(tmp_path: Path, monkeypatch,
                                                            pillow_in_this_process: None) -> None:
    """Issue 11 finding 6: a large JPEG is decoded at a reduced scale (Image.draft) and stored at 2048 px at most."""
    refs = store(tmp_path, NANOBANANA_API_KEY='real', NANOGEN_PUBLIC_URL='https://studio.example.com')
    buf = io.BytesIO()
    Image.new('RGB', (5000, 3000), (90, 20, 20)).save(buf, format='JPEG', quality=70)
    decoded: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def spy(self):
        result = real_load(self)
        if self.format == 'JPEG':
            decoded.append(self.size)
        return result
    monkeypatch.setattr(Image.Image, 'load', spy)
    ref = await refs.save(7, buf.getvalue())
    assert max(ref.width, ref.height) == 2048 and ref.width / ref.height == pytest.approx(5 / 3, rel=0.01)
    assert decoded and max(decoded[0]) < 5000, decoded  # never the full 15 MP
    with Image.open(next((tmp_path / 'images').rglob('*.png'))) as stored:
        assert max(stored.size) == 2048


async def test_reference_decodes_run_one_at_a_time(tmp_path: Path, monkeypatch, pillow_in_this_process: None) -> None:
    """Issue 11 finding 6: four uploads at once are decoded one after another, so their memory never adds up."""
    import asyncio
    import threading

    import nanogen.images.references as references
    refs = store(tmp_path, NANOBANANA_API_KEY='real', NANOGEN_PUBLIC_URL='https://studio.example.com')
    running, peak, lock = [0], [0], threading.Lock()
    real_prepare = references._prepare

    def counting(*args):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.05)  # long enough that overlapping decodes would overlap here
            return real_prepare(*args)
        finally:
            with lock:
                running[0] -= 1
    monkeypatch.setattr(references, '_prepare', counting)
    saved = await asyncio.gather(*(refs.save(7, png((400, 300))) for _ in range(4)))
    assert len({r.key for r in saved}) == 4 and peak[0] == 1


async def test_an_hour_old_reference_url_is_signed_anew_and_other_urls_pass_unchanged(tmp_path: Path,
                                                                                       monkeypatch) -> None:
    """Issue 17: a queued batch row (or a retry) reaches the provider hours after its reference URL was signed."""
    refs = store(tmp_path, NANOGEN_PUBLIC_URL='https://studio.example.com')
    mine, theirs = await refs.save(3, png()), await refs.save(4, png())
    real_time = time.time
    monkeypatch.setattr(time, 'time', lambda: real_time() - 7200)  # signed two hours ago
    old, foreign = await refs.url_for(3, mine.key), await refs.url_for(4, theirs.key)
    monkeypatch.setattr(time, 'time', real_time)
    with pytest.raises(NotFound, match='expired'):
        await refs.open(old.rsplit('/', 1)[1])
    elsewhere = 'https://cdn.example.org/users/3/refs/' + '0' * 32 + '.png'
    fresh, kept_foreign, kept_elsewhere = await refs.refresh(3, (old, foreign, elsewhere))
    assert await refs.open(fresh.rsplit('/', 1)[1]) == await refs.storage.get(mine.key)
    assert (kept_foreign, kept_elsewhere) == (foreign, elsewhere)  # another user's key is never re-signed for you


async def test_the_provider_is_sent_a_fresh_url_for_a_queued_prompts_old_reference(fake, make_services,
                                                                                     isolated_env: Path,
                                                                                     monkeypatch) -> None:
    from nanogen.generation.requests import validate_request
    from tests.conftest import make_settings
    from tests.integration.test_generation import add_user, wait_status

    provider, url = fake
    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/r.db', url,
                                                 NANOGEN_PUBLIC_URL='https://studio.example.com'))
    uid = await add_user(services)
    ref = await services.references.save(uid, png())
    real_time = time.time
    monkeypatch.setattr(time, 'time', lambda: real_time() - 7200)
    old = await services.references.url_for(uid, ref.key)
    monkeypatch.setattr(time, 'time', real_time)
    req = validate_request(prompt='a lamp like this one', reference_urls=(old,), settings=services.settings)
    done = await wait_status(services, (await services.generation.create(uid, req)).id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED', done.error_message
    [sent] = provider.tasks[done.provider_task_id].params['imageUrls']
    assert sent.startswith('https://studio.example.com/refs/') and sent != old
    assert await services.references.open(sent.rsplit('/', 1)[1]) == await services.storage.get(ref.key)
