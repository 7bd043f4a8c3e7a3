"""Tags, star ratings and saved searches (issue 16). An image's owner tags and rates it; autocomplete offers the
user's own tags and those on images shared with their groups; a saved search is a named set of gallery filters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.library.board_access import shared_image_ids
from nanogen.library.queries import ImageQuery, own_image
from nanogen.models import Image, ImageRating, ImageTag, SavedSearch

MAX_TAG, MAX_TAGS, MAX_SAVED, MAX_SAVED_NAME = 40, 20, 30, 60
TAG_RE = re.compile(r'^[\w][\w \-.&+#]*$')


def clean_tag(raw: str) -> str:
    tag = ' '.join((raw or '').split()).lower()
    if not tag:
        raise InvalidInput('A tag cannot be empty.', field='tags')
    if len(tag) > MAX_TAG:
        raise InvalidInput(f'A tag has at most {MAX_TAG} characters.', field='tags')
    if not TAG_RE.match(tag):
        raise InvalidInput(f'"{tag[:20]}" is not a tag: use letters, digits, spaces and - . & + #.', field='tags')
    return tag


def clean_tags(raw: Iterable[str]) -> list[str]:
    tags = list(dict.fromkeys(clean_tag(t) for t in raw))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f'An image has at most {MAX_TAGS} tags.', field='tags')
    return tags


@dataclass(frozen=True)
class Saved:
    id: int
    name: str
    query: ImageQuery


def query_to_json(query: ImageQuery) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return list(value) if isinstance(value, tuple) else value
    return json.dumps({k: plain(v) for k, v in asdict(query).items() if v not in (None, (), False)})


def query_from_json(raw: str) -> ImageQuery:
    data = json.loads(raw)
    for key in ('date_from', 'date_to'):
        if key in data:
            data[key] = datetime.fromisoformat(data[key])
    for key in ('cost_min', 'cost_max'):
        if key in data:
            data[key] = Decimal(data[key])
    if 'tags' in data:
        data['tags'] = tuple(data['tags'])
    known = set(ImageQuery.__dataclass_fields__)
    return ImageQuery(**{k: v for k, v in data.items() if k in known})


class Tagging:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set_tags(self, user_id: int, image_id: int, tags: Iterable[str]) -> list[str]:
        """Replace the image's tags (its owner only); returns them sorted."""
        cleaned = clean_tags(tags)

        def work(s: Session) -> list[str]:
            own_image(s, user_id, image_id)
            s.execute(sa.delete(ImageTag).where(col(ImageTag.image_id) == image_id))
            s.add_all([ImageTag(image_id=image_id, tag=t) for t in cleaned])
            s.commit()
            return sorted(cleaned)
        return await self.db.write(work)

    async def tags_of(self, user_id: int, image_id: int) -> list[str]:
        def work(s: Session) -> list[str]:
            own_image(s, user_id, image_id)
            return sorted(s.exec(select(ImageTag.tag).where(col(ImageTag.image_id) == image_id)))
        return await self.db.run(work)

    async def suggest(self, user_id: int, prefix: str = '', *, limit: int = 20) -> list[str]:
        """Tags starting with `prefix` on the user's images and on images shared with their groups."""
        start = ' '.join((prefix or '').split()).lower()[:MAX_TAG]

        def work(s: Session) -> list[str]:
            own = select(Image.id).where(col(Image.user_id) == user_id, col(Image.deleted_at).is_(None))
            stmt = (select(ImageTag.tag).where(sa.or_(col(ImageTag.image_id).in_(own),
                                                      col(ImageTag.image_id).in_(shared_image_ids(user_id))))
                    .distinct().order_by(col(ImageTag.tag)).limit(limit))
            if start:
                stmt = stmt.where(col(ImageTag.tag).startswith(start, autoescape=True))
            return list(s.exec(stmt))
        return await self.db.run(work)

    async def set_rating(self, user_id: int, image_id: int, stars: int | None) -> int | None:
        """1-5 stars from the image's owner; None clears the rating."""
        if stars is not None and (isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5):
            raise InvalidInput('Rate with 1 to 5 stars.', field='stars')

        def work(s: Session) -> int | None:
            own_image(s, user_id, image_id)
            s.execute(sa.delete(ImageRating).where(col(ImageRating.image_id) == image_id))
            if stars is not None:
                s.add(ImageRating(image_id=image_id, stars=stars))
            s.commit()
            return stars
        return await self.db.write(work)

    async def rating_of(self, user_id: int, image_id: int) -> int | None:
        def work(s: Session) -> int | None:
            own_image(s, user_id, image_id)
            row = s.get(ImageRating, image_id)
            return row.stars if row else None
        return await self.db.run(work)

    async def labels_of(self, user_id: int, image_ids: Iterable[int]) -> dict[int, tuple[list[str], int | None]]:
        """The tags (sorted) and stars of the user's own images among `image_ids`, for a page of the API in two
        queries; images of others and images without either are left out."""
        wanted = list(dict.fromkeys(image_ids))

        def work(s: Session) -> dict[int, tuple[list[str], int | None]]:
            own = select(Image.id).where(col(Image.user_id) == user_id, col(Image.id).in_(wanted))
            tags: dict[int, list[str]] = {}
            for image_id, tag in s.exec(select(ImageTag.image_id, ImageTag.tag).where(
                    col(ImageTag.image_id).in_(own)).order_by(col(ImageTag.image_id), col(ImageTag.tag))):
                tags.setdefault(image_id, []).append(tag)
            stars = dict(s.exec(select(ImageRating.image_id, ImageRating.stars).where(
                col(ImageRating.image_id).in_(own))).all())
            return {i: (tags.get(i, []), stars.get(i)) for i in {*tags, *stars}}
        return await self.db.run(work) if wanted else {}

    # ------------------------------------------------------------------ saved searches
    async def save_search(self, user_id: int, name: str, query: ImageQuery) -> Saved:
        cleaned = ' '.join((name or '').split())
        if not cleaned or len(cleaned) > MAX_SAVED_NAME:
            raise InvalidInput(f'Name the search in 1 to {MAX_SAVED_NAME} characters.', field='name')

        def work(s: Session) -> Saved:
            count = len(list(s.exec(select(SavedSearch.id).where(col(SavedSearch.user_id) == user_id))))
            if count >= MAX_SAVED:
                raise InvalidInput(f'You can keep at most {MAX_SAVED} saved searches: delete one first.',
                                   field='name')
            row = SavedSearch(user_id=user_id, name=cleaned, query=query_to_json(query))
            s.add(row)
            s.commit()
            s.refresh(row)
            assert row.id is not None
            return Saved(id=row.id, name=row.name, query=query)
        return await self.db.write(work)

    async def saved_searches(self, user_id: int) -> list[Saved]:
        def work(s: Session) -> list[Saved]:
            rows = s.exec(select(SavedSearch).where(col(SavedSearch.user_id) == user_id).order_by(col(SavedSearch.id)))
            return [Saved(id=r.id or 0, name=r.name, query=query_from_json(r.query)) for r in rows]
        return await self.db.run(work)

    async def delete_saved_search(self, user_id: int, saved_id: int) -> None:
        def work(s: Session) -> None:
            row = s.get(SavedSearch, saved_id)
            if row is None or row.user_id != user_id:
                raise NotFound('That saved search does not exist.')
            s.delete(row)
            s.commit()
        await self.db.write(work)
