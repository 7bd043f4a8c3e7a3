"""Issue 3 end to end: generating with the S3 settings stores original, processed image and thumbnail in the
bucket; only the owner gets them; deleting removes them; a storage failure leaves no row pointing at nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from nicegui.testing import User
from sqlmodel import select

from nanogen.generation import results
from nanogen.generation.requests import validate_request
from nanogen.images.s3 import S3Storage
from nanogen.models import Image, Prompt
from tests.conftest import make_settings
from tests.integration.test_generation import add_user, wait_status
from tests.support.s3 import TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY
from tests.ui.helpers import eventually, sign_in
from tests.ui.studio import app_services, result_images


def raw(endpoint: str) -> Any:
    return boto3.session.Session(aws_access_key_id=TEST_ACCESS_KEY_ID, aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
                                 region_name=TEST_REGION).client('s3', endpoint_url=endpoint)


def keys_in(endpoint: str, bucket: str) -> list[str]:
    client = raw(endpoint)
    try:
        return sorted(o['Key'] for o in client.list_objects_v2(Bucket=bucket).get('Contents', []))
    finally:
        client.close()


@pytest.fixture
def s3_env(endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv('R2_BUCKET', bucket)
    monkeypatch.setenv('R2_ACCESS_KEY_ID', TEST_ACCESS_KEY_ID)
    monkeypatch.setenv('R2_SECRET_ACCESS_KEY', TEST_SECRET_ACCESS_KEY)
    monkeypatch.setenv('NANOGEN_S3_ENDPOINT_URL', endpoint)
    monkeypatch.setenv('NANOGEN_S3_REGION', TEST_REGION)
    return bucket


async def test_generating_in_the_app_stores_three_objects_in_the_bucket_for_the_owner_only(
        s3_env: str, endpoint: str, user: User) -> None:
    svc = app_services()
    assert isinstance(svc.storage, S3Storage)
    await sign_in(user, then='/generator')
    user.find(marker='prompt').type('a harbour at night in the rain')
    user.find(marker='generate').click()
    await eventually(lambda: result_images(user))  # the card shows the result (/files/<id>/image)
    keys = keys_in(endpoint, s3_env)
    assert keys == ['users/1/1/0.orig.png', 'users/1/1/0.png', 'users/1/1/0.thumb.webp']
    # The owner's file route answers with a short-lived presigned URL that a plain client can fetch.
    answer = await user.http_client.get('/files/1/image')
    assert answer.status_code == 307
    location = answer.headers['location']
    assert location.startswith(endpoint) and 'X-Amz-Signature' in location
    async with httpx.AsyncClient() as plain:
        fetched = await plain.get(location)
    assert fetched.status_code == 200 and fetched.content.startswith(b'\x89PNG')
    # Someone else, even signed in, gets 404 for the same id; nobody signed in gets no file at all.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(user.http_client._transport.app),  # type: ignore[attr-defined]
                                 base_url='http://test') as stranger:
        assert (await stranger.get('/files/1/image', headers={'accept': 'application/json'})).status_code == 401
    other = await svc.users.sign_in(subject='local:eve@example.com', email='eve@example.com')
    with pytest.raises(Exception, match='does not exist'):
        await svc.library.file_for(other.id, 1, 'image')
    # Deleting removes every object and the row.
    await svc.library.delete_image(1, 1)
    assert keys_in(endpoint, s3_env) == []
    assert await svc.db.run(lambda s: s.get(Image, 1)) is None


async def test_a_store_that_keeps_failing_ends_the_prompt_failed_with_no_dangling_rows_or_objects(
        fake, make_services, isolated_env: Path, endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _provider, url = fake
    monkeypatch.setattr(results, 'STORAGE_RETRY_WINDOW_S', 1.0)
    storage = S3Storage(bucket=bucket, endpoint_url=endpoint, access_key_id=TEST_ACCESS_KEY_ID,
                        secret_access_key=TEST_SECRET_ACCESS_KEY, region=TEST_REGION, retries=1, backoff_base=0.01)
    puts = {'n': 0}

    def fail_the_thumbnail(request: Any, **_: Any) -> Any:
        puts['n'] += 1
        if request.url.endswith('.thumb.webp'):  # the processed image and the original got in; the third never does
            from botocore.awsrequest import AWSResponse

            class Body:
                def stream(self, **_: Any) -> Iterator[bytes]:
                    yield b'<Error><Code>InternalError</Code><Message>injected</Message></Error>'
            return AWSResponse(request.url, 500, {'Content-Type': 'application/xml'}, Body())
        return None

    services = await make_services(make_settings(isolated_env, f'sqlite:///{isolated_env}/t.db', url),
                                   storage=storage)
    storage.client.meta.events.register('before-send.s3.PutObject', fail_the_thumbnail)
    uid = await add_user(services)
    prompt = await services.generation.create(uid, validate_request(prompt='an unsaveable sunset'))
    done = await wait_status(services, prompt.id, {'COMPLETED', 'FAILED'}, timeout=20)
    assert done.status == 'FAILED'
    assert 'could not be saved' in (done.error_message or '')
    assert puts['n'] >= 3
    assert await services.db.run(lambda s: list(s.exec(select(Image)))) == []
    assert done.image_id is None
    await asyncio.sleep(0.1)
    assert keys_in(endpoint, bucket) == []  # what did get in was removed again
    row = await services.db.run(lambda s: s.get(Prompt, prompt.id))
    assert row.status == 'FAILED'
