"""Boards (issue 16): named collections of images, private to their owner, shared with one group, or public by a
signed, expiring, revocable link. The library service delegates here; who may do what:

| who                                   | sees the board and its images | adds / removes images | renames, shares, deletes |
|---------------------------------------|-------------------------------|-----------------------|--------------------------|
| the owner                             | yes                           | yes (their own images) | yes                     |
| a member of the board's group         | yes                           | editor or admin role  | no                       |
| anyone with a live public link        | yes (read only)               | no                    | no                       |
| anyone else                           | no: the same 404 as a missing board                                              |
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nanogen.accounts.tokens import hash_token
from nanogen.db import Database
from nanogen.errors import Forbidden, InvalidInput, NotFound
from nanogen.library.queries import own_image
from nanogen.models import Board, BoardImage, BoardLink, Group, GroupMember, Image

log = logging.getLogger(__name__)
BOARD_GONE = 'That board does not exist.'
LINK_GONE = 'This link is no longer available.'
MAX_NAME, MAX_DESCRIPTION, MAX_ADD = 100, 1000, 500
EDIT_ROLES = ('owner', 'editor', 'admin')


@dataclass(frozen=True)
class BoardInfo:
    """A board as one viewer sees it: `role` is theirs ('owner', 'admin', 'editor', 'member' or 'link')."""

    id: int
    name: str
    description: str
    owner_id: int
    cover_image_id: int | None
    group_id: int | None
    group_name: str | None
    image_count: int
    created_at: datetime
    role: str

    @property
    def can_edit(self) -> bool:
        return self.role in EDIT_ROLES

    @property
    def is_owner(self) -> bool:
        return self.role == 'owner'


@dataclass(frozen=True)
class BoardLinkInfo:
    id: int
    board_id: int
    path: str  # '/b/<token>': shown once, when made
    created_at: datetime
    expires_at: datetime | None


def _clean_name(name: str) -> str:
    cleaned = ' '.join((name or '').split())
    if not cleaned:
        raise InvalidInput('Give the board a name.', field='name')
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f'A board name has at most {MAX_NAME} characters.', field='name')
    return cleaned


def _clean_description(text: str) -> str:
    if len(text or '') > MAX_DESCRIPTION:
        raise InvalidInput(f'A description has at most {MAX_DESCRIPTION} characters.', field='description')
    return (text or '').strip()


def role_on(s: Session, user_id: int, board: Board) -> str | None:
    """The viewer's role on a board, or None when they may not see it."""
    if board.user_id == user_id:
        return 'owner'
    if board.group_id is None:
        return None
    return s.exec(select(GroupMember.role).where(col(GroupMember.group_id) == board.group_id,
                                                 col(GroupMember.user_id) == user_id)).first()


def visible_board(s: Session, user_id: int, board_id: int) -> tuple[Board, str]:
    board = s.get(Board, board_id)
    role = role_on(s, user_id, board) if board is not None else None
    if board is None or role is None:
        raise NotFound(BOARD_GONE)
    return board, role


def editable_board(s: Session, user_id: int, board_id: int) -> tuple[Board, str]:
    board, role = visible_board(s, user_id, board_id)
    if role not in EDIT_ROLES:
        raise Forbidden('Only the owner and the group\'s editors can change this board.')
    return board, role


def owned_board(s: Session, user_id: int, board_id: int) -> Board:
    board, role = visible_board(s, user_id, board_id)
    if role != 'owner':
        raise Forbidden('Only the board\'s owner can rename, share or delete it.')
    return board


def shared_image_ids(user_id: int) -> Any:
    """The ids of images on boards shared with a group the user belongs to (a subquery)."""
    return (select(BoardImage.image_id).join(Board, col(Board.id) == col(BoardImage.board_id))
            .join(GroupMember, col(GroupMember.group_id) == col(Board.group_id))
            .where(col(GroupMember.user_id) == user_id))


def visible_image(s: Session, user_id: int, image_id: int) -> Image:
    """The user's own live image, or one on a board shared with their group; else the same NotFound."""
    image = s.get(Image, image_id)
    if image is None or image.deleted_at is not None:
        raise NotFound('That image does not exist.')
    if image.user_id != user_id and s.exec(shared_image_ids(user_id).where(
            col(BoardImage.image_id) == image_id)).first() is None:
        raise NotFound('That image does not exist.')
    return image


class Boards:
    def __init__(self, *, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    # ------------------------------------------------------------------ reading
    def _info(self, s: Session, board: Board, role: str) -> BoardInfo:
        assert board.id is not None
        count = s.exec(select(func.count()).select_from(BoardImage).join(Image, col(Image.id) == col(
            BoardImage.image_id)).where(col(BoardImage.board_id) == board.id, col(Image.deleted_at).is_(None))).one()
        group = s.get(Group, board.group_id) if board.group_id is not None else None
        return BoardInfo(id=board.id, name=board.name, description=board.description, owner_id=board.user_id,
                         cover_image_id=board.cover_image_id, group_id=board.group_id,
                         group_name=group.name if group else None, image_count=int(count),
                         created_at=board.created_at, role=role)

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
                    infos.append(self._info(s, board, role))
            return sorted(infos, key=lambda b: (not b.is_owner, b.name.lower(), b.id))
        return await self.db.run(work)

    async def get(self, user_id: int, board_id: int) -> BoardInfo:
        def work(s: Session) -> BoardInfo:
            return self._info(s, *visible_board(s, user_id, board_id))
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
        board = Board(user_id=user_id, name=_clean_name(name), description=_clean_description(description))

        def work(s: Session) -> BoardInfo:
            s.add(board)
            s.commit()
            s.refresh(board)
            return self._info(s, board, 'owner')
        info = await self.db.write(work)
        log.info('user %s created board %s', user_id, info.id)
        return info

    async def update(self, user_id: int, board_id: int, *, name: str | None = None, description: str | None = None,
                     cover_image_id: int | None = None) -> BoardInfo:
        def work(s: Session) -> BoardInfo:
            board = owned_board(s, user_id, board_id)
            if name is not None:
                board.name = _clean_name(name)
            if description is not None:
                board.description = _clean_description(description)
            if cover_image_id is not None:
                if s.get(BoardImage, (board_id, cover_image_id)) is None:
                    raise InvalidInput('The cover must be an image on the board.', field='cover_image_id')
                board.cover_image_id = cover_image_id
            s.add(board)
            s.commit()
            return self._info(s, board, 'owner')
        return await self.db.write(work)

    async def delete(self, user_id: int, board_id: int) -> None:
        """The board goes; its images stay in their owners' libraries."""
        def work(s: Session) -> None:
            board = owned_board(s, user_id, board_id)
            s.execute(sa.delete(BoardImage).where(col(BoardImage.board_id) == board_id))
            s.execute(sa.delete(BoardLink).where(col(BoardLink.board_id) == board_id))
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
            board.group_id = group_id
            s.add(board)
            s.commit()
            return self._info(s, board, 'owner')
        info = await self.db.write(work)
        log.info('user %s shared board %s with group %s', user_id, board_id, group_id)
        return info

    # ------------------------------------------------------------------ public links
    async def create_link(self, user_id: int, board_id: int, *, expires_in: timedelta | None = None) -> BoardLinkInfo:
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidInput('A link must stay valid for some time: choose a later expiry.', field='expires_in')
        token = secrets.token_urlsafe(32)
        now = self.clock()

        def work(s: Session) -> BoardLink:
            owned_board(s, user_id, board_id)
            link = BoardLink(board_id=board_id, token_hash=hash_token(token), created_at=now,
                             expires_at=now + expires_in if expires_in else None)
            s.add(link)
            s.commit()
            s.refresh(link)
            return link
        link = await self.db.write(work)
        assert link.id is not None
        return BoardLinkInfo(id=link.id, board_id=board_id, path=f'/b/{token}', created_at=link.created_at,
                             expires_at=link.expires_at)

    async def revoke_link(self, user_id: int, board_id: int, link_id: int) -> None:
        now = self.clock()

        def work(s: Session) -> None:
            owned_board(s, user_id, board_id)
            link = s.get(BoardLink, link_id)
            if link is None or link.board_id != board_id:
                raise NotFound('That link does not exist.')
            if link.revoked_at is None:
                link.revoked_at = now
                s.add(link)
                s.commit()
        await self.db.write(work)

    async def resolve_link(self, token: str) -> BoardInfo:
        """The board behind a public link; every link that does not work gets the same NotFound."""
        if not token or len(token) > 100:
            raise NotFound(LINK_GONE)
        digest, now = hash_token(token), self.clock()

        def work(s: Session) -> BoardInfo:
            link = s.exec(select(BoardLink).where(col(BoardLink.token_hash) == digest)).first()
            if link is None or link.revoked_at is not None or (link.expires_at and link.expires_at <= now):
                raise NotFound(LINK_GONE)
            board = s.get(Board, link.board_id)
            if board is None:
                raise NotFound(LINK_GONE)
            return self._info(s, board, 'link')
        return await self.db.run(work)

    async def image_on_board(self, board_id: int, image_id: int) -> Image:
        """A live image that is on this board (the caller has checked the viewer may see the board)."""
        def work(s: Session) -> Image:
            image = s.get(Image, image_id)
            if image is None or image.deleted_at is not None or s.get(BoardImage, (board_id, image_id)) is None:
                raise NotFound('That image does not exist.')
            return image
        return await self.db.run(work)
