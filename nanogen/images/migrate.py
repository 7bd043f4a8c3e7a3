"""Copy a local image library into the S3/R2 bucket: `python -m nanogen.images.migrate --from-dir DIR`.

Resumable by design: an object already in the bucket with the same size, SHA-256 (our `sha256` metadata)
and MD5 ETag is skipped, so an interrupted run is simply started again. Local files are never deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from nanogen.errors import NanogenError
from nanogen.images.s3 import ObjectInfo, S3Storage
from nanogen.images.storage import LocalStorage, content_type_for

log = logging.getLogger(__name__)

DESCRIPTION = """\
Copy every file under --from-dir (the local image store) into the S3/R2 bucket configured by
R2_BUCKET, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY and R2_ACCOUNT_ID or NANOGEN_S3_ENDPOINT_URL.
Objects already present with the same SHA-256 are skipped, so the command can be re-run until it
reports no failures. It never deletes or changes the local files: remove them yourself once the
app runs from the bucket.
"""


@dataclass
class MigrationReport:
    copied: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self, *, dry_run: bool) -> str:
        verb = 'would copy' if dry_run else 'copied'
        return f'{verb} {self.copied}, skipped {self.skipped} (already there), failed {self.failed}'


def is_verified_copy(info: ObjectInfo | None, data: bytes) -> bool:
    """True when the remote object provably holds `data`.

    The sha256 metadata proves what we meant to write; the size and the ETag (the MD5 of the stored
    bytes for single-part uploads on S3, R2 and MinIO) prove what is actually there, so an object
    overwritten or damaged after the upload does not pass on its metadata alone.
    """
    if info is None or info.size != len(data) or info.sha256 != hashlib.sha256(data).hexdigest():
        return False
    if len(info.etag) == 32 and '-' not in info.etag:  # multipart ETags are not an MD5 of the content
        return info.etag.lower() == hashlib.md5(data, usedforsecurity=False).hexdigest()
    return True


async def migrate(source: LocalStorage, target: S3Storage, *, dry_run: bool = False,
                  concurrency: int = 8) -> MigrationReport:
    """Copy every key of `source` missing (or different) in `target`; see the module docstring."""
    report = MigrationReport()
    keys = await source.list_keys('')
    if not dry_run and keys:
        await target.ensure_bucket()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for key in keys:
        queue.put_nowait(key)

    async def copy_one(key: str) -> None:
        try:
            data = await source.get(key)
            if is_verified_copy(await target.stat(key), data):
                report.skipped += 1
                return
            if dry_run:
                report.copied += 1
                return
            await target.put(key, data, content_type=content_type_for(key))
            if not is_verified_copy(await target.stat(key), data):
                raise RuntimeError('the uploaded object does not match the local file')
            report.copied += 1
        except (NanogenError, ValueError, OSError, RuntimeError) as exc:
            report.failed += 1
            detail = getattr(exc, 'detail', None) or str(exc)
            report.failures.append(f'{key}: {detail}')
            log.error('could not copy %s: %s', key, detail)

    async def worker() -> None:
        while not queue.empty():
            await copy_one(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m nanogen.images.migrate', description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--from-dir', required=True, type=Path,
                        help='the local image store to copy from, e.g. ./data/images (never modified)')
    parser.add_argument('--dry-run', action='store_true',
                        help='only report what would be copied; nothing is uploaded')
    parser.add_argument('--concurrency', type=int, default=8, help='parallel uploads (default 8)')
    return parser


def main(argv: list[str] | None = None, *, out: TextIO | None = None) -> int:
    """The command line: 0 when everything is in the bucket, 1 when some files failed, 2 on bad setup.

    The summary line goes to `out` (stdout by default); errors go to stderr.
    """
    from nanogen.config import Settings  # here so that `--help` works without a valid environment

    args = _parser().parse_args(argv)
    out = out or sys.stdout
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    if not args.from_dir.is_dir():
        sys.stderr.write(f'error: {args.from_dir} is not a directory\n')
        return 2
    try:
        target = S3Storage.from_settings(Settings())
    except NanogenError as exc:
        sys.stderr.write(f'error: {exc.user_message}\n')
        return 2
    try:
        report = asyncio.run(migrate(LocalStorage(args.from_dir), target, dry_run=args.dry_run,
                                     concurrency=args.concurrency))
    except NanogenError as exc:  # e.g. the bucket cannot be reached or created at all
        sys.stderr.write(f'error: {exc.user_message} ({exc.detail})\n')
        return 1
    finally:
        target.close()
    out.write(report.summary(dry_run=args.dry_run) + '\n')
    return 1 if report.failed else 0


if __name__ == '__main__':
    sys.exit(main())
