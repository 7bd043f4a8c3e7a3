"""Gallery at scale: server time of the first gallery page and of searches for a user with 1k/10k/100k images.

`python -m bench.gallery` fills SQLite (a temp file) and PostgreSQL (its own database on the server named by
--postgres, default the machine's) with rows through SQLAlchemy core inserts, then times nanogen.library.queries.list_images
as the gallery calls it (Database.run in a worker thread). Target: p95 < 100 ms at 100,000 images, and time that
does not grow linearly with the library. Another user's 20,000 images share the tables, as on a real install.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bench.common import quiet_logs, report, summary_ms, verdict
from nanogen.db import Database
from nanogen.library.queries import ImageQuery, list_images
from nanogen.models import Image, Prompt, User

ADJECTIVES = ('misty', 'golden', 'quiet', 'neon', 'ancient', 'frozen', 'lush', 'stormy', 'tiny', 'vast',
              'rusty', 'silver', 'sunlit', 'hidden', 'floating', 'crystal', 'paper', 'velvet', 'broken', 'distant')
NOUNS = ('harbour', 'forest', 'city', 'castle', 'desert', 'garden', 'station', 'library', 'mountain', 'river',
         'market', 'bridge', 'island', 'tower', 'valley', 'meadow', 'canyon', 'temple', 'village', 'lighthouse')
SIZES_TO_TEST = (1_000, 10_000, 100_000)
BATCH = 5_000
REPEATS = 30
SEARCHES = {'first page (no search)': None, 'search, common word (5% of rows)': 'lighthouse',
            'search, rare phrase (0.05% of rows)': 'velvet lighthouse 7', 'search, no match (whole library)': 'zebra',
            'search, word in every row': 'watercolour'}


def fill(db: Database, user_id: int, start: int, stop: int, base: datetime) -> None:
    """Rows [start, stop) for one user: one prompt and one image each, a minute apart (core inserts, batched)."""
    with db.engine.begin() as conn:
        first_prompt = conn.execute(sa.select(sa.func.coalesce(sa.func.max(Prompt.id), 0))).scalar_one() + 1
        for lo in range(start, stop, BATCH):
            hi = min(stop, lo + BATCH)
            prompts, images = [], []
            for n in range(lo, hi):
                when = base + timedelta(minutes=n)
                pid = first_prompt + (n - start)
                text = f'a {ADJECTIVES[n % 20]} {NOUNS[(n // 20) % 20]} {n % 1000}, watercolour, soft light'
                prompts.append(dict(id=pid, user_id=user_id, prompt=text, task_type='TEXT_TO_IMAGE', image_size=1024,
                                    aspect_ratio='1:1', num_images=1, model='nanobanana',
                                    estimated_cost=Decimal('0.0125'), cost=Decimal('0.0125'), duration_ms=20000,
                                    status='COMPLETED', submit_attempts=1, created_at=when, updated_at=when,
                                    completed_at=when))
                key = f'users/{user_id}/{pid}/0'
                images.append(dict(user_id=user_id, prompt_id=pid, position=0, key=f'{key}/image.png',
                                   original_key=f'{key}/original.png', thumb_key=f'{key}/thumb.webp',
                                   content_type='image/png', width=1024, height=1024, size_bytes=1_400_000,
                                   sha256='0' * 64, is_favourite=n % 50 == 0, created_at=when))
            conn.execute(sa.insert(Prompt.__table__), prompts)  # type: ignore[attr-defined]
            conn.execute(sa.insert(Image.__table__), images)  # type: ignore[attr-defined]
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level='AUTOCOMMIT').exec_driver_sql('ANALYZE')
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql('ANALYZE')


def add_user(db: Database, email: str) -> int:
    with db.engine.begin() as conn:
        return int(conn.execute(sa.insert(User.__table__).values(  # type: ignore[attr-defined]
            subject=f'local:{email}', email=email, name=email.split('@')[0], avatar_url='', is_admin=False, disabled=False,
            session_version=0, created_at=datetime.now(UTC), last_seen_at=datetime.now(UTC))
            .returning(User.__table__.c.id)).scalar_one())  # type: ignore[attr-defined]


async def time_queries(db: Database, user_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, search in SEARCHES.items():
        query = ImageQuery(search=search)
        await list_images(db, user_id, query, limit=60)  # warm the cache, as a running server's is
        samples = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            page = await list_images(db, user_id, query, limit=60)
            samples.append(time.perf_counter() - started)
        out[label] = {**summary_ms(samples), 'rows': len(page.items)}
    first = await list_images(db, user_id, ImageQuery(), limit=60)
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await list_images(db, user_id, ImageQuery(), cursor=first.next_cursor, limit=60)
        samples.append(time.perf_counter() - started)
    out['second page (cursor)'] = summary_ms(samples)
    return out


async def bench_backend(url: str, sizes: tuple[int, ...]) -> dict[str, Any]:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    user = await asyncio.to_thread(add_user, db, 'big@example.com')
    other = await asyncio.to_thread(add_user, db, 'other@example.com')
    base = datetime(2024, 1, 1, tzinfo=UTC)
    await asyncio.to_thread(fill, db, other, 0, 20_000, base)
    results: dict[str, Any] = {}
    have = 0
    for size in sizes:
        started = time.perf_counter()
        await asyncio.to_thread(fill, db, user, have, size, base)
        have = size
        results[f'{size:,} images'] = {'fill_s': round(time.perf_counter() - started, 1),
                                       **await time_queries(db, user)}
    db.dispose()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--postgres', default='postgresql://postgres@127.0.0.1:5432/postgres',
                        help='an admin URL; the bench creates and drops its own database ("" to skip)')
    parser.add_argument('--sizes', default=','.join(map(str, SIZES_TO_TEST)), help='library sizes, ascending')
    args = parser.parse_args(argv)
    sizes = tuple(int(n) for n in args.sizes.split(','))
    quiet_logs()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures['sqlite'] = asyncio.run(bench_backend(f'sqlite:///{tmp}/gallery.db', sizes))
    if args.postgres:
        name = f'nanogen_bench_{uuid.uuid4().hex[:8]}'
        admin = sa.create_engine(args.postgres.replace('postgresql://', 'postgresql+psycopg://', 1),
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE {name}')
        try:
            figures['postgresql'] = asyncio.run(bench_backend(f'{args.postgres.rsplit("/", 1)[0]}/{name}', sizes))
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
            admin.dispose()
    biggest = f'{sizes[-1]:,} images'
    figures['targets'] = {f'{backend}: {label} p95 < 100 ms at {biggest}': verdict(res[biggest][label]['p95_ms'], 100)
                          for backend, res in figures.items() if isinstance(res, dict) and biggest in res
                          for label in SEARCHES}
    report('gallery', figures)


if __name__ == '__main__':
    main()
