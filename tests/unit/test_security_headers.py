"""Issue 11 finding 1: the CSP lets images come from the configured bucket and nowhere else."""

from __future__ import annotations

from nanogen.config import Settings
from nanogen.http.headers import content_security_policy


def img_src(settings: Settings) -> list[str]:
    part = next(p for p in content_security_policy(settings).split(';') if p.strip().startswith('img-src'))
    return part.split()[1:]


def test_local_storage_allows_only_our_own_images() -> None:
    assert img_src(Settings()) == ["'self'", 'data:', 'blob:']  # type: ignore[call-arg]


def test_s3_presigned_and_public_url_origins_are_allowed() -> None:
    settings = Settings(R2_BUCKET='pics', R2_ACCESS_KEY_ID='k', R2_SECRET_ACCESS_KEY='s',  # type: ignore[call-arg]
                        NANOGEN_S3_ENDPOINT_URL='https://s3.example.com:9000',
                        R2_PUBLIC_URL='https://cdn.example.com/pics')
    assert img_src(settings) == ["'self'", 'data:', 'blob:', 'https://s3.example.com:9000',
                                 'https://*.s3.example.com:9000', 'https://cdn.example.com']


def test_r2_account_endpoint_is_allowed() -> None:
    settings = Settings(R2_BUCKET='pics', R2_ACCESS_KEY_ID='k', R2_SECRET_ACCESS_KEY='s',  # type: ignore[call-arg]
                        R2_ACCOUNT_ID='abc123')
    assert 'https://abc123.r2.cloudflarestorage.com' in img_src(settings)
    assert 'https://*.abc123.r2.cloudflarestorage.com' in img_src(settings)
