"""Storage against real HTTP (moto's S3 server) and a real disk; the migrate command end to end."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
import httpx
import pytest
from botocore.awsrequest import AWSResponse

from nanogen.config import Settings
from nanogen.errors import ConfigError, NotFound, StorageError
from nanogen.images import migrate as storage_migrate
from nanogen.images.s3 import S3Storage
from nanogen.images.storage import LocalStorage, check_key, object_key
from tests.support.s3 import TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY

PNG = b'\x89PNG\r\n\x1a\n' + b'pretend pixels' * 10




class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_s3(endpoint: str, bucket: str, sleep: FakeSleep | None = None, **kw: Any) -> S3Storage:
    return S3Storage(bucket=bucket, endpoint_url=endpoint, access_key_id=TEST_ACCESS_KEY_ID,
                     secret_access_key=TEST_SECRET_ACCESS_KEY, region=TEST_REGION, sleep=sleep or FakeSleep(), **kw)


@pytest.fixture
async def s3(endpoint: str, bucket: str) -> Any:
    store = make_s3(endpoint, bucket)
    await store.ensure_bucket()
    yield store
    store.close()


@pytest.fixture
def raw_client(endpoint: str) -> Iterator[Any]:
    """A plain boto3 client, for looking behind the storage's back."""
    client = boto3.session.Session(aws_access_key_id=TEST_ACCESS_KEY_ID, aws_secret_access_key=TEST_SECRET_ACCESS_KEY,
                                   region_name=TEST_REGION).client('s3', endpoint_url=endpoint)
    yield client
    client.close()


class FaultInjector:
    """A botocore hook that answers the first `failures` requests itself, with `status`, before any HTTP."""

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.body

    def __init__(self, failures: int, status: int = 500, code: str = 'InternalError') -> None:
        self.failures = failures
        self.status = status
        self.code = code
        self.calls = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.calls += 1
        if self.calls > self.failures:
            return None  # let the real request through
        body = f'<Error><Code>{self.code}</Code><Message>injected</Message></Error>'.encode()
        return AWSResponse(request.url, self.status, {'Content-Type': 'application/xml'}, self._Raw(body))


# ---------------------------------------------------------------- S3 basics

async def test_put_get_exists_list_delete(s3: S3Storage, raw_client: Any) -> None:
    await s3.ensure_bucket()  # a second time: nothing to do
    key = object_key(7, 42, 0, 'image', 'png')
    assert not await s3.exists(key)
    await s3.put(key, PNG, content_type='image/png')
    await s3.put(object_key(7, 42, 0, 'thumb', 'png'), b'RIFF....WEBP', content_type='image/webp')
    await s3.put(object_key(8, 1, 0, 'image', 'png'), b'other user', content_type='image/png')
    assert await s3.get(key) == PNG
    assert await s3.exists(key)
    assert await s3.list_keys('users/7/') == ['users/7/42/0.png', 'users/7/42/0.thumb.webp']
    head = raw_client.head_object(Bucket=s3.bucket, Key=key)
    assert head['ContentType'] == 'image/png'
    assert head['CacheControl'] == 'private, max-age=31536000, immutable'
    assert head['Metadata']['sha256'] == hashlib.sha256(PNG).hexdigest()
    await s3.delete(key)
    assert not await s3.exists(key)
    with pytest.raises(NotFound):
        await s3.get(key)
    await s3.delete(key)  # already gone: still fine
    assert await s3.list_keys('users/7/') == ['users/7/42/0.thumb.webp']


async def test_presigned_url_serves_the_bytes_to_a_plain_client(s3: S3Storage) -> None:
    key = object_key(1, 2, 3, 'image', 'png')
    await s3.put(key, PNG, content_type='image/png')
    url = await s3.presigned_url(key, expires_s=60)
    download_url = await s3.presigned_url(key, expires_s=60, filename='a "cat"/dög.png')
    assert url is not None and download_url is not None
    with httpx.Client() as http:
        plain = http.get(url)
        download = http.get(download_url)
    assert plain.status_code == 200 and plain.content == PNG
    assert plain.headers['content-type'] == 'image/png'
    assert download.status_code == 200 and download.content == PNG
    # moto ignores the response-* overrides (S3 and R2 honour them), so check what the URL asks for.
    query = parse_qs(urlsplit(url).query)
    assert query['response-content-type'] == ['image/png'] and query['X-Amz-Expires'] == ['60']
    assert 'response-content-disposition' not in query
    disposition = parse_qs(urlsplit(download_url).query)['response-content-disposition'][0]
    assert disposition == 'attachment; filename="a _cat_d_g.png"; filename*=UTF-8\'\'a%20_cat_d%C3%B6g.png'


async def test_public_url_only_when_configured(endpoint: str, bucket: str, s3: S3Storage) -> None:
    assert s3.public_url('users/1/2/0.png') is None
    public = make_s3(endpoint, bucket, public_url='https://img.example.com/')
    assert public.public_url('users/1/2/0.png') == 'https://img.example.com/users/1/2/0.png'
    public.close()


async def test_ping(endpoint: str, s3: S3Storage) -> None:
    await s3.ping()
    missing = make_s3(endpoint, 'no-such-bucket-here')
    with pytest.raises(StorageError, match='cannot be reached'):
        await missing.ping()
    with pytest.raises(StorageError):  # a missing bucket is a setup fault, not a missing image
        await missing.get('users/1/1/0.png')
    missing.close()
    closed = make_s3('http://127.0.0.1:9', 'whatever')  # port 9 (discard) is not listening
    with pytest.raises(StorageError):
        await closed.ping()
    closed.close()


async def test_bad_keys_are_refused_before_any_request(s3: S3Storage) -> None:
    for key in ('../escape.png', '/abs.png', 'users//1.png', 'users/1/a b.png', ''):
        with pytest.raises(ValueError):
            await s3.put(key, PNG, content_type='image/png')


# ---------------------------------------------------------------- configuration

def settings(**values: Any) -> Settings:
    base = {'r2_bucket': 'images', 'r2_access_key_id': 'AKIDEXAMPLE', 'r2_secret_access_key': 'not-logged',
            'r2_account_id': '', 's3_endpoint_url': '', 's3_region': 'auto', 'r2_public_url': ''}
    return Settings(_env_file=None, **(base | values))  # type: ignore[call-arg]


def test_from_settings_builds_the_r2_endpoint() -> None:
    store = S3Storage.from_settings(settings(r2_account_id='abc123'))
    assert store.client.meta.endpoint_url == 'https://abc123.r2.cloudflarestorage.com'
    assert store.client.meta.region_name == 'auto'
    assert store.client.meta.config.signature_version == 's3v4'
    assert store.bucket == 'images' and store.name == 's3'
    store.close()


def test_from_settings_prefers_an_explicit_endpoint() -> None:
    store = S3Storage.from_settings(settings(r2_account_id='abc123', s3_endpoint_url='http://minio:9000/',
                                             s3_region='eu-central-1'))
    assert store.client.meta.endpoint_url == 'http://minio:9000'
    assert store.client.meta.region_name == 'eu-central-1'
    assert store.client.meta.config.s3['addressing_style'] == 'path'
    store.close()


def test_from_settings_refuses_an_incomplete_setup() -> None:
    with pytest.raises(ConfigError, match='R2_BUCKET'):
        S3Storage.from_settings(settings(r2_account_id='abc123', r2_secret_access_key=''))


# ---------------------------------------------------------------- retries

async def test_put_survives_injected_server_errors(endpoint: str, bucket: str, s3: S3Storage) -> None:
    sleep = FakeSleep()
    store = make_s3(endpoint, bucket, sleep, retries=4, backoff_base=0.2)
    faults = FaultInjector(failures=2)
    store.client.meta.events.register('before-send.s3.PutObject', faults)
    await store.put('users/1/1/0.png', PNG, content_type='image/png')
    assert faults.calls == 3  # two refused by the injector, the third went over HTTP
    assert await s3.get('users/1/1/0.png') == PNG
    assert len(sleep.delays) == 2 and 0.1 <= sleep.delays[0] <= 0.2 <= sleep.delays[1] <= 0.4
    store.close()


async def test_put_gives_up_after_the_retries(endpoint: str, bucket: str, s3: S3Storage) -> None:
    sleep = FakeSleep()
    store = make_s3(endpoint, bucket, sleep, retries=3, backoff_base=0.2)
    faults = FaultInjector(failures=100, status=503, code='SlowDown')
    store.client.meta.events.register('before-send.s3.PutObject', faults)
    with pytest.raises(StorageError) as caught:
        await store.put('users/1/1/0.png', PNG, content_type='image/png')
    assert 'Please try again' in caught.value.user_message and 'after 4 attempts' in str(caught.value.detail)
    assert faults.calls == 4 and len(sleep.delays) == 3
    assert sleep.delays == sorted(sleep.delays)  # backoff grows
    assert not await s3.exists('users/1/1/0.png')
    store.close()


async def test_client_errors_are_not_retried(endpoint: str, bucket: str, s3: S3Storage) -> None:
    sleep = FakeSleep()
    store = make_s3(endpoint, bucket, sleep)
    faults = FaultInjector(failures=100, status=403, code='AccessDenied')
    store.client.meta.events.register('before-send.s3.PutObject', faults)
    with pytest.raises(StorageError, match='refused'):
        await store.put('users/1/1/0.png', PNG, content_type='image/png')
    assert faults.calls == 1 and sleep.delays == []
    store.close()


async def test_get_retries_connection_errors(endpoint: str, bucket: str, s3: S3Storage) -> None:
    await s3.put('users/1/1/0.png', PNG, content_type='image/png')
    sleep = FakeSleep()
    store = make_s3(endpoint, bucket, sleep)
    calls = []

    def drop_first(request: Any, **_: Any) -> None:
        calls.append(request.url)
        if len(calls) == 1:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)
    store.client.meta.events.register('before-send.s3.GetObject', drop_first)
    assert await store.get('users/1/1/0.png') == PNG
    assert len(calls) == 2 and len(sleep.delays) == 1
    store.close()


# ---------------------------------------------------------------- local disk

async def test_local_put_get_exists_list_delete(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / 'images')
    await store.ping()
    await store.put('users/1/2/0.png', PNG, content_type='image/png')
    await store.put('users/1/2/0.thumb.webp', b'thumb', content_type='image/webp')
    await store.put('users/10/3/0.png', b'ten', content_type='image/png')
    assert (tmp_path / 'images/users/1/2/0.png').read_bytes() == PNG
    assert await store.get('users/1/2/0.png') == PNG
    assert await store.exists('users/1/2/0.png') and not await store.exists('users/1/2/9.png')
    assert await store.list_keys('users/1/') == ['users/1/2/0.png', 'users/1/2/0.thumb.webp']
    assert await store.list_keys('') == ['users/1/2/0.png', 'users/1/2/0.thumb.webp', 'users/10/3/0.png']
    assert await store.presigned_url('users/1/2/0.png', expires_s=60) is None
    assert store.public_url('users/1/2/0.png') is None
    await store.delete('users/1/2/0.png')
    await store.delete('users/1/2/0.png')
    with pytest.raises(NotFound):
        await store.get('users/1/2/0.png')


@pytest.mark.parametrize('key', ['../outside.png', 'users/../../outside.png', '/etc/passwd', 'users//x.png',
                                 'users/./x.png', 'users\\..\\x.png', 'a/b\x00.png'])
async def test_local_refuses_keys_escaping_the_root(tmp_path: Path, key: str) -> None:
    store = LocalStorage(tmp_path / 'root')
    with pytest.raises(ValueError):
        await store.put(key, b'x', content_type='image/png')
    with pytest.raises(ValueError):
        await store.get(key)
    assert not (tmp_path / 'outside.png').exists()


async def test_local_refuses_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    (tmp_path / 'root').mkdir()
    (tmp_path / 'elsewhere').mkdir()
    (tmp_path / 'root' / 'users').symlink_to(tmp_path / 'elsewhere')
    with pytest.raises(ValueError, match='escapes'):
        await LocalStorage(tmp_path / 'root').put('users/1.png', b'x', content_type='image/png')
    assert list((tmp_path / 'elsewhere').iterdir()) == []


async def test_local_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStorage(tmp_path)
    await store.put('users/1/1/0.png', b'old', content_type='image/png')

    def crash(src: str, dst: str) -> None:
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'replace', crash)
    with pytest.raises(StorageError, match='could not be saved'):
        await store.put('users/1/1/0.png', b'new' * 1000, content_type='image/png')
    monkeypatch.undo()
    assert await store.get('users/1/1/0.png') == b'old'  # the old image, whole
    assert sorted(p.name for p in (tmp_path / 'users/1/1').iterdir()) == ['0.png']  # no temp file left
    await store.put('users/1/1/0.png', b'new', content_type='image/png')
    assert await store.get('users/1/1/0.png') == b'new'


async def test_local_listing_skips_writes_in_progress(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    await store.put('users/1/1/0.png', b'x', content_type='image/png')
    (tmp_path / 'users/1/1/.0.png.abc123.partial').write_bytes(b'half')
    assert await store.list_keys('') == ['users/1/1/0.png']


def test_object_keys() -> None:
    assert object_key(3, 14, 0, 'image', 'png') == 'users/3/14/0.png'
    assert object_key(3, 14, 1, 'original', '.JPG') == 'users/3/14/1.orig.jpg'
    assert object_key(3, 14, 2, 'thumb', 'png') == 'users/3/14/2.thumb.webp'
    for bad in [(0, 1, 0, 'image', 'png'), (1, True, 0, 'image', 'png'), (1, 1, -1, 'image', 'png'),
                (1, 1, 0, 'image', 'exe'), (1, 1, 0, 'poster', 'png'), ('1', 1, 0, 'image', 'png')]:
        with pytest.raises(ValueError):
            object_key(*bad)  # type: ignore[arg-type]
    assert check_key('users/1/2/3.png') == 'users/1/2/3.png'


# ---------------------------------------------------------------- migrate command

@pytest.fixture
def migrate_env(endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {'R2_BUCKET': bucket, 'R2_ACCESS_KEY_ID': TEST_ACCESS_KEY_ID, 'R2_SECRET_ACCESS_KEY': TEST_SECRET_ACCESS_KEY,
           'R2_ACCOUNT_ID': '', 'NANOGEN_S3_ENDPOINT_URL': endpoint, 'NANOGEN_S3_REGION': TEST_REGION}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env from the working tree
    return env


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / 'data' / 'images'
    files = {'users/1/1/0.png': PNG, 'users/1/1/0.orig.jpg': b'\xff\xd8\xff jpeg',
             'users/1/1/0.thumb.webp': b'RIFF\0\0\0\0WEBP', 'users/2/5/1.png': PNG * 3}
    for key, data in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return root


def run_migrate(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = storage_migrate.main(list(args), out=out)
    return code, out.getvalue().strip()


def test_migrate_copies_then_skips_then_repairs(migrate_env: dict[str, str], library: Path, raw_client: Any) -> None:
    bucket = migrate_env['R2_BUCKET']
    assert run_migrate('--from-dir', str(library), '--dry-run') == (0, 'would copy 4, skipped 0 (already there), failed 0')
    assert bucket not in {b['Name'] for b in raw_client.list_buckets()['Buckets']}  # a dry run writes nothing

    assert run_migrate('--from-dir', str(library)) == (0, 'copied 4, skipped 0 (already there), failed 0')
    for path in library.rglob('*'):
        if path.is_file():
            key = path.relative_to(library).as_posix()
            obj = raw_client.get_object(Bucket=bucket, Key=key)
            assert obj['Body'].read() == path.read_bytes()
    assert raw_client.head_object(Bucket=bucket, Key='users/1/1/0.orig.jpg')['ContentType'] == 'image/jpeg'

    assert run_migrate('--from-dir', str(library)) == (0, 'copied 0, skipped 4 (already there), failed 0')

    # Damage two objects: one keeps a (now lying) sha256, one was written by something else entirely.
    good_sha = raw_client.head_object(Bucket=bucket, Key='users/2/5/1.png')['Metadata']['sha256']
    raw_client.put_object(Bucket=bucket, Key='users/2/5/1.png', Body=b'x' * len(PNG * 3), Metadata={'sha256': good_sha})
    raw_client.put_object(Bucket=bucket, Key='users/1/1/0.png', Body=b'garbage')
    assert run_migrate('--from-dir', str(library)) == (0, 'copied 2, skipped 2 (already there), failed 0')
    assert raw_client.get_object(Bucket=bucket, Key='users/2/5/1.png')['Body'].read() == PNG * 3
    assert raw_client.get_object(Bucket=bucket, Key='users/1/1/0.png')['Body'].read() == PNG
    assert sum(1 for p in library.rglob('*') if p.is_file()) == 4  # local files are never deleted


def test_migrate_reports_failures(migrate_env: dict[str, str], library: Path) -> None:
    (library / 'users' / 'not a valid key.png').write_bytes(PNG)
    code, summary = run_migrate('--from-dir', str(library))
    assert code == 1 and summary == 'copied 4, skipped 0 (already there), failed 1'
    assert (library / 'users' / 'not a valid key.png').exists()


def test_migrate_refuses_a_missing_dir_or_setup(migrate_env: dict[str, str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run_migrate('--from-dir', str(tmp_path / 'nope')) == (2, '')
    assert 'is not a directory' in capsys.readouterr().err
    (tmp_path / 'empty').mkdir()
    monkeypatch.delenv('R2_BUCKET')
    assert run_migrate('--from-dir', str(tmp_path / 'empty')) == (2, '')
    assert 'R2_BUCKET' in capsys.readouterr().err


def test_python_dash_m_runs_migrate(migrate_env: dict[str, str], library: Path) -> None:
    run = [sys.executable, '-m', 'nanogen.images.migrate']
    env = os.environ | {'PYTHONPATH': str(Path(__file__).resolve().parents[2])}
    shown = subprocess.run([*run, '--help'], capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0 and 'never deletes' in ' '.join(shown.stdout.split())
    assert subprocess.run(run, capture_output=True, env=env, timeout=60).returncode == 2
    done = subprocess.run([*run, '--from-dir', str(library), '--dry-run'], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == 'would copy 4, skipped 0 (already there), failed 0'
