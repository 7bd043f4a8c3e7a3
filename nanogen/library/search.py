"""Prompt-text search: a case-insensitive substring match, narrowed by a trigram index where the database has one.

The meaning is always the LIKE below (the user's text, `%` and `_` taken literally). The indexes only make it fast:
- PostgreSQL: migration 0002's GIN trigram index serves `ILIKE '%text%'` as it is; nothing to do here.
- SQLite: migration 0002's FTS5 trigram table `prompts_fts` is asked first for the prompts that contain the text, and
  LIKE still filters those exactly (trigram matching folds case beyond ASCII, SQLite's LIKE does not). Trigrams need
  3+ characters, so shorter terms keep the plain LIKE; they match most rows and fill a page quickly anyway.

The index is no help when the text is in most of a user's prompts: the matches must then all be fetched and sorted,
where walking the user's rows newest first with LIKE finds a page almost at once. So a page sorted along an index
first tries LIKE on a window of the next rows in page order, and asks the index only when that window holds too
few matches to fill the page.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from nanogen.models import Prompt

MIN_INDEXED_CHARS = 3  # FTS5's trigram tokenizer matches nothing shorter
WINDOW_ROWS = 2_000  # LIKE over this many rows costs about 1.5 ms on SQLite...
WINDOW_PAGES = 20  # ...or over this many pages' worth, for big pages
FTS_TABLE = 'prompts_fts'
_fts = sa.table(FTS_TABLE, sa.column('rowid'))


def contains(column: Any, text: str) -> Any:
    """`column` contains `text` (stripped), case-insensitively, with LIKE's wildcards taken as plain characters."""
    # Escape LIKE's wildcards so a search for "100%" means the characters, not a pattern.
    escaped = text.strip().replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')
    return column.ilike(f'%{escaped}%', escape='\\')


def fts_literal(text: str) -> str:
    """The text as one FTS5 string (a phrase): never read as query syntax (AND, NEAR, *, column filters...)."""
    return '"' + text.replace('"', '""') + '"'


def indexed_match(s: Session, text: str, prompt_id: Any = None) -> Any | None:
    """`prompts.id IN (prompts whose text has the trigrams of text)`, or None where no such index serves this search;
    `prompt_id` names another column holding the prompt's id (images.prompt_id, which an index may cover)."""
    text = text.strip()
    if len(text) < MIN_INDEXED_CHARS or s.get_bind().dialect.name != 'sqlite' or not _has_fts(s):
        return None
    matches = sa.select(_fts.c.rowid).where(sa.literal_column(FTS_TABLE).op('MATCH')(fts_literal(text)))
    return (col(Prompt.id) if prompt_id is None else prompt_id).in_(matches)


def search_filter(s: Session, text: str) -> Any:
    """The whole search condition: LIKE, narrowed by the index where there is one."""
    like = contains(col(Prompt.prompt), text)
    indexed = indexed_match(s, text)
    return like if indexed is None else sa.and_(indexed, like)


def search_page(s: Session, stmt: Any, text: str, key: Any, id_col: Any, descending: bool, limit: int) -> list[Any]:
    """The first `limit + 1` rows of `stmt` whose prompt contains `text`, in (key, id) order; `key` must lead an
    index that `stmt`'s other filters walk (created_at), so the window below costs what it reads."""
    order = (key.desc(), id_col.desc()) if descending else (key.asc(), id_col.asc())
    like = contains(col(Prompt.prompt), text)
    indexed = indexed_match(s, text)
    if indexed is None:
        return list(s.exec(stmt.where(like).order_by(*order).limit(limit + 1)))
    window = max(WINDOW_ROWS, WINDOW_PAGES * (limit + 1))
    # Through the connection: SQLModel would hand back only the first column of a select(Prompt) narrowed like this.
    edge = s.connection().execute(stmt.with_only_columns(key, id_col).order_by(*order)
                                  .offset(window - 1).limit(1)).first()
    if edge is None:  # fewer rows than the window in all: LIKE reads them all at the window's cost
        return list(s.exec(stmt.where(like).order_by(*order).limit(limit + 1)))
    near = list(s.exec(stmt.where(like, _up_to(key, id_col, edge[0], edge[1], descending))
                       .order_by(*order).limit(limit + 1)))
    if len(near) > limit:  # every row before the page's last one lies in the window, so this is the page
        return near
    return list(s.exec(stmt.where(indexed, like).order_by(*order).limit(limit + 1)))


def _up_to(key: Any, id_col: Any, value: Any, last_id: int, descending: bool) -> Any:
    """Rows up to and including (value, last_id) in the page order; the plain range first, so an index serves it."""
    if descending:
        return sa.and_(key >= value, sa.or_(key > value, id_col >= last_id))
    return sa.and_(key <= value, sa.or_(key < value, id_col <= last_id))


def _has_fts(s: Session) -> bool:
    # Looked up per search (microseconds): a database that migration 0002 could not index still searches, by LIKE.
    return s.exec(sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name")  # type: ignore[call-overload]
                  .bindparams(name=FTS_TABLE)).first() is not None
