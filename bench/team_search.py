"""Team library search at scale (issue 16): gallery pages filtered by tags, stars and a board, and a board's page.

`python -m bench.team_search` fills SQLite (a temp file) and PostgreSQL (its own database) with one user's images
(bench.gallery's rows), tags every image (one of 50 tags, plus "zine" on 5%), rates a fifth of them (1 to 5 stars,
evenly) and puts 10% on one board, then times nanogen.library.queries as the gallery and the board page call them.
Every query matches some images (a run that finds none stops: an empty filter times nothing worth knowing).
Target: p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench.common import quiet_logs, report, summary_ms, verdict
from bench.gallery import add_user, fill
from nanogen.db import Database
from nanogen.library.queries import ImageQuery, list_board_images, list_images
from nanogen.models import Board, BoardImage, Image, ImageRating, ImageTag

REPEATS = 30
# The data (label): 'zine' on n % 20 == 0, tag-k on n % 50 == k, so zine meets tag-10 on 1% (never an odd tag-k).
QUERIES = {'tag, common (5%)': ImageQuery(tags=('zine',)), 'tag, rare (2%)': ImageQuery(tags=('tag-7',)),
           'two tags (1%)': ImageQuery(tags=('zine', 'tag-10')), 'tag + text search': ImageQuery(tags=('zine',),
                                                                                                  search='lighthouse'),
           'stars >= 4': ImageQuery(min_rating=4), 'board filter (10%)': ImageQuery(board_id=-1),
           'board + tag': ImageQuery(board_id=-1, tags=('zine',))}


def label(db: Database, user_id: int) -> int:
    """Tags, ratings and one board over the user's images (core inserts); the board's id."""
    with db.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.select(Image.__table__.c.id).where(  # type: ignore[attr-defined]
            Image.__table__.c.user_id == user_id).order_by(Image.__table__.c.id))]  # type: ignore[attr-defined]
        board = conn.execute(sa.insert(Board.__table__).values(  # type: ignore[attr-defined]
            user_id=user_id, name='bench', description='', created_at=datetime.now(UTC))
            .returning(Board.__table__.c.id)).scalar_one()  # type: ignore[attr-defined]
        tags = [{'image_id': i, 'tag': f'tag-{n % 50}'} for n, i in enumerate(ids)]
        tags += [{'image_id': i, 'tag': 'zine'} for n, i in enumerate(ids) if n % 20 == 0]
        for lo in range(0, len(tags), 10_000):
            conn.execute(sa.insert(ImageTag.__table__), tags[lo:lo + 10_000])  # type: ignore[attr-defined]
        conn.execute(sa.insert(ImageRating.__table__),  # type: ignore[attr-defined]
                     # n // 5, not n: every rated n is a multiple of 5, so 1 + n % 5 gave them all 1 star
                     [{'image_id': i, 'stars': 1 + (n // 5) % 5} for n, i in enumerate(ids) if n % 5 == 0])
        conn.execute(sa.insert(BoardImage.__table__),  # type: ignore[attr-defined]
                     [{'board_id': board, 'image_id': i, 'created_at': datetime.now(UTC)}
                      for n, i in enumerate(ids) if n % 10 == 0])
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level='AUTOCOMMIT').exec_driver_sql('ANALYZE')
    return int(board)


async def timed(call: Any) -> dict[str, Any]:
    page = await call()  # warm, as a running server's cache is
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        page = await call()
        samples.append(time.perf_counter() - started)
    return {**summary_ms(samples), 'rows': len(page.items)}


async def bench_backend(url: str, size: int) -> dict[str, Any]:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    user = await asyncio.to_thread(add_user, db, 'team@example.com')
    await asyncio.to_thread(fill, db, user, 0, size, datetime(2024, 1, 1, tzinfo=UTC))
    board = await asyncio.to_thread(label, db, user)
    out: dict[str, Any] = {}
    for name, query in QUERIES.items():
        if query.board_id == -1:
            query = ImageQuery(board_id=board, tags=query.tags)
        out[name] = await timed(lambda q=query: list_images(db, user, q, limit=60))
    out['board page'] = await timed(lambda: list_board_images(db, board, ImageQuery(), limit=60))
    out['board page + tag'] = await timed(lambda: list_board_images(db, board, ImageQuery(tags=('zine',)), limit=60))
    db.dispose()
    if empty := [name for name, figures in out.items() if not figures['rows']]:
        raise SystemExit(f'bench.team_search: no rows for {", ".join(empty)}: fix the data set, not the figures')
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--postgres', default='postgresql://postgres@127.0.0.1:5432/postgres',
                        help='an admin URL; the bench creates and drops its own database ("" to skip)')
    parser.add_argument('--size', type=int, default=100_000, help='images in the library')
    args = parser.parse_args(argv)
    quiet_logs()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures['sqlite'] = asyncio.run(bench_backend(f'sqlite:///{tmp}/team.db', args.size))
    if args.postgres:
        name = f'nanogen_bench_{uuid.uuid4().hex[:8]}'
        admin = sa.create_engine(args.postgres.replace('postgresql://', 'postgresql+psycopg://', 1),
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE {name}')
        try:
            figures['postgresql'] = asyncio.run(bench_backend(f'{args.postgres.rsplit("/", 1)[0]}/{name}', args.size))
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
            admin.dispose()
    figures['targets'] = {f'{backend}: {q} p95 < 100 ms': verdict(res[q]['p95_ms'], 100)
                          for backend, res in list(figures.items()) for q in res}
    report('team_search', figures)


if __name__ == '__main__':
    main()
