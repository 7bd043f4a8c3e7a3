"""Versions in the gallery's query: only the roots of version trees (the "group versions" toggle), and how many
versions each tile's tree has (its badge). Both walk `images.root_image_id`'s index, never the parent chain."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from nanogen.models import Image


def root_of(image: Image | None) -> int | None:
    """The root a new version of `image` records (None: there is no parent, the new image is a root itself)."""
    if image is None:
        return None
    return image.root_image_id or image.id


def roots_only(stmt: Any) -> Any:
    """`stmt` (over Image) narrowed to tiles that stand for their whole tree: roots, and versions whose root is gone
    (deleted or purged) so they are not hidden with it."""
    root = aliased(Image)
    root_live = sa.exists().where(col(root.id) == col(Image.root_image_id), col(root.deleted_at).is_(None))
    return stmt.where(sa.or_(col(Image.root_image_id).is_(None), ~root_live))


def version_counts(s: Session, images: Iterable[tuple[int, int | None]]) -> dict[int, int]:
    """How many live versions (the root included) the tree of each (image id, root id) has, by image id."""
    roots = {image_id: root or image_id for image_id, root in images}
    if not roots:
        return {}
    wanted = set(roots.values())
    tree = func.coalesce(col(Image.root_image_id), col(Image.id))
    counted = dict(s.exec(select(tree, func.count()).where(
        sa.or_(col(Image.root_image_id).in_(wanted), col(Image.id).in_(wanted)),
        col(Image.deleted_at).is_(None)).group_by(tree)).all())
    return {image_id: max(1, int(counted.get(root, 1))) for image_id, root in roots.items()}
