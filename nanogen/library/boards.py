"""Boards (issue 16): named collections of images, private to their owner, shared with one group, or public by a
signed, expiring, revocable link. The library service delegates here; who may do what:

| who                            | sees it and its images | adds / removes images  | renames, cover, shares, links, deletes |
|--------------------------------|------------------------|------------------------|----------------------------------------|
| the owner                      | yes                    | yes (their own images) | yes                                    |
| a member of the board's group  | yes                    | editor or admin role   | no                                     |
| anyone with a live public link | yes (read only)        | no                     | no                                     |
| anyone else                    | no: the same 404 as a missing board                                                      |

Access rules and a board's shown cover live in board_access.py, its public links in board_links.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.library.board_access import (
    BOARD_GONE,
    LINK_GONE,
    MAX_ADD,
    BoardInfo,
    audit_board,
    board_info,
    clean_description,
    clean_name,
    editable_board,
    live_on_board,
    owned_board,
    role_on,
    visible_board,
)
from nanogen.library.board_links import BoardLinkInfo, BoardLinkOps, BoardLinkRow
from nanogen.library.queries import own_image
from nanogen.models import Board, BoardImage, BoardLink, GroupMember, Image

log = logging.getLogger(__name__)
__all__ = ['BOARD_GONE', 'LINK_GONE', 'BoardInfo', 'BoardLinkInfo', 'BoardLinkRow', 'Boards']


class Boards(BoardLinkOps):
    """Board CRUD, images on boards and sharing; public links come from `BoardLinkOps` (board_links.py)."""

    def __init__(self, *, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ reading
    async def visible_to(self, user_id: int) -> list[BoardInfo]:
        """The user's own boards, then those shared with their groups, by name."""
        def work(s: Session) -> list[BoardInfo]:
            groups = select(GroupMember.group_id).where(col(GroupMember.user_id) == user_id)
            boards = s.exec(select(Board).where(sa.or_(col(Board.user_id) == user_id, col(Board.group_id).in_(groups)))
                            .order_by(col(Board.name), col(Board.id)))
            infos = []
            for board in boards:
                role = role_on(s, user_id, board)
                if role is not None:
                    infos.append(board_info(s, board, role))
            return sorted(infos, key=lambda b: (not b.is_owner, b.name.lower(), b.id))
        return await self.db.run(work)

    async def get(self, user_id: int, board_id: int) -> BoardInfo:
        def work(s: Session) -> BoardInfo:
            return board_info(s, *visible_board(s, user_id, board_id))
        return await self.db.run(work)

    async def boards_of_image(self, user_id: int, image_id: int) -> list[int]:
        """The ids of the viewer's visible boards that hold this image."""
        boards = await self.visible_to(user_id)
        ids = [b.id for b in boards]

        def work(s: Session) -> list[int]:
            return list(s.exec(select(BoardImage.board_id).where(col(BoardImage.image_id) == image_id,
                                                                 col(BoardImage.board_id).in_(ids))))
        return await self.db.run(work) if ids else []

    # ------------------------------------------------------------------ changing
    async def create(self, user_id: int, name: str, description: str = '') -> BoardInfo:
        board = Board(user_id=user_id, name=clean_name(name), description=clean_description(description))

        def work(s: Session) -> BoardInfo:
            s.add(board)
            s.commit()
            s.refresh(board)
            return board_info(s, board, 'owner')
        info = await self.db.write(work)
        log.info('user %s created board %s', user_id, info.id)
        return info

    async def update(self, user_id: int, board_id: int, *, name: str | None = None, description: str | None = None,
                     cover_image_id: int | None = None, clear_cover: bool = False) -> BoardInfo:
        """The owner renames, describes or picks the cover (an image on the board); `clear_cover`: back to the
        newest image. Nothing given changes nothing; one bad field refuses the lot."""
        def work(s: Session) -> BoardInfo:
            board = owned_board(s, user_id, board_id)
            if name is not None:
                board.name = clean_name(name)
            if description is not None:
                board.description = clean_description(description)
            if cover_image_id is not None:
                if s.exec(live_on_board(board_id).where(col(BoardImage.image_id) == cover_image_id)).first() is None:
                    raise InvalidInput('The cover must be an image on the board.', field='cover_image_id')
                board.cover_image_id = cover_image_id
            elif clear_cover:
                board.cover_image_id = None
            s.add(board)
            s.commit()
            return board_info(s, board, 'owner')
        info = await self.db.write(work)
        log.info('user %s changed board %s', user_id, board_id)
        return info

    async def delete(self, user_id: int, board_id: int) -> None:
        """The board goes; its images stay in their owners' libraries."""
        def work(s: Session) -> None:
            board = owned_board(s, user_id, board_id)
            s.execute(sa.delete(BoardImage).where(col(BoardImage.board_id) == board_id))
            s.execute(sa.delete(BoardLink).where(col(BoardLink.board_id) == board_id))
            audit_board(s, user_id, 'board.delete', board_id, board.name)
            s.delete(board)
            s.commit()
        await self.db.write(work)
        log.info('user %s deleted board %s', user_id, board_id)

    async def add_images(self, user_id: int, board_id: int, image_ids: Iterable[int]) -> list[int]:
        """Put the user's own images on a board they may edit (all or nothing); returns the ids newly added."""
        wanted = list(dict.fromkeys(image_ids))
        if not wanted:
            raise InvalidInput('Choose at least one image.', field='image_ids')
        if len(wanted) > MAX_ADD:
            raise InvalidInput(f'Add at most {MAX_ADD} images at once.', field='image_ids')
        now = self.clock()

        def work(s: Session) -> list[int]:
            editable_board(s, user_id, board_id)
            for image_id in wanted:
                own_image(s, user_id, image_id)  # one foreign or missing id refuses the lot
            there = set(s.exec(select(BoardImage.image_id).where(col(BoardImage.board_id) == board_id,
                                                                 col(BoardImage.image_id).in_(wanted))))
            added = [i for i in wanted if i not in there]
            for image_id in added:
                s.add(BoardImage(board_id=board_id, image_id=image_id, added_by=user_id, created_at=now))
            s.commit()
            return added
        return await self.db.write(work)

    async def remove_images(self, user_id: int, board_id: int, image_ids: Iterable[int]) -> int:
        """Take images off a board the user may edit (the images themselves stay); returns how many went."""
        wanted = list(dict.fromkeys(image_ids))

        def work(s: Session) -> int:
            board, _role = editable_board(s, user_id, board_id)
            gone = s.execute(sa.delete(BoardImage).where(col(BoardImage.board_id) == board_id,
                                                         col(BoardImage.image_id).in_(wanted)))
            if board.cover_image_id in wanted:
                board.cover_image_id = None
                s.add(board)
            s.commit()
            return int(getattr(gone, 'rowcount', 0) or 0)
        return await self.db.write(work)

    async def share_with_group(self, user_id: int, board_id: int, group_id: int | None) -> BoardInfo:
        """Share the board with one of the owner's groups (None: private again)."""
        def work(s: Session) -> BoardInfo:
            board = owned_board(s, user_id, board_id)
            if group_id is not None and s.exec(select(GroupMember).where(
                    col(GroupMember.group_id) == group_id, col(GroupMember.user_id) == user_id)).first() is None:
                raise NotFound('That group does not exist, or you are not in it.')
            if board.group_id != group_id:
                audit_board(s, user_id, 'board.share', board_id, f'group:{board.group_id} -> group:{group_id}'
                            if group_id is not None else f'group:{board.group_id} -> private')
                board.group_id = group_id
                s.add(board)
            s.commit()
            return board_info(s, board, 'owner')
        info = await self.db.write(work)
        log.info('user %s shared board %s with group %s', user_id, board_id, group_id)
        return info

    async def image_on_board(self, board_id: int, image_id: int) -> Image:
        """A live image that is on this board (the caller has checked the viewer may see the board)."""
        def work(s: Session) -> Image:
            image = s.get(Image, image_id)
            if image is None or image.deleted_at is not None or s.get(BoardImage, (board_id, image_id)) is None:
                raise NotFound('That image does not exist.')
            return image
        return await self.db.run(work)

    async def newest_images(self, board_id: int, *, limit: int) -> list[Image]:
        """The board's live images, newest first (its pages' order), at most `limit`: a public "Download all"."""
        def work(s: Session) -> list[Image]:
            return list(s.exec(select(Image).where(col(Image.id).in_(live_on_board(board_id)))
                               .order_by(col(Image.created_at).desc(), col(Image.id).desc()).limit(limit)))
        return await self.db.run(work)
