"""Who may see and change a board, and a board as one viewer sees it (its shown cover included); the rules are drawn
in nanogen/library/boards.py, whose service and link operations build on these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from nanogen.errors import Forbidden, InvalidInput, NotFound
from nanogen.models import AuditEvent, Board, BoardImage, Group, GroupMember, Image

BOARD_GONE = 'That board does not exist.'
LINK_GONE = 'This link is no longer available.'
MAX_NAME, MAX_DESCRIPTION, MAX_ADD = 100, 1000, 500
EDIT_ROLES = ('owner', 'editor', 'admin')


@dataclass(frozen=True)
class BoardInfo:
    """A board as one viewer sees it: `role` is theirs ('owner', 'admin', 'editor', 'member' or 'link').

    `cover_image_id` is the image shown as the cover: the one the owner chose while it is on the board, else the
    board's newest image, else None; `cover_chosen` says which of the two it is."""

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
    cover_chosen: bool = False

    @property
    def can_edit(self) -> bool:
        return self.role in EDIT_ROLES

    @property
    def is_owner(self) -> bool:
        return self.role == 'owner'


def clean_name(name: str) -> str:
    cleaned = ' '.join((name or '').split())
    if not cleaned:
        raise InvalidInput('Give the board a name.', field='name')
    if len(cleaned) > MAX_NAME:
        raise InvalidInput(f'A board name has at most {MAX_NAME} characters.', field='name')
    return cleaned


def clean_description(text: str) -> str:
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


def audit_board(s: Session, actor_id: int, action: str, board_id: int, detail: str = '') -> None:
    """A change of who may see a board's images (sharing, public links, deletion), in the caller's transaction."""
    s.add(AuditEvent(actor_id=actor_id, action=action, target=f'board:{board_id}', detail=detail[:1000]))


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


def visible_to(stmt: Any, user_id: int) -> Any:
    """`stmt` (a select over Image) narrowed to the live images the user may see: their own, and those on a board
    shared with a group they belong to (the same rule as `visible_image`)."""
    return stmt.where(col(Image.deleted_at).is_(None),
                      sa.or_(col(Image.user_id) == user_id, col(Image.id).in_(shared_image_ids(user_id))))


def visible_images(s: Session, user_id: int, image_ids: list[int]) -> dict[int, Image]:
    """The images among `image_ids` the user may see, by id (the others are left out)."""
    if not image_ids:
        return {}
    return {i.id: i for i in s.exec(visible_to(select(Image).where(col(Image.id).in_(image_ids)), user_id))
            if i.id is not None}


def live_on_board(board_id: int) -> Any:
    """The ids of a board's live (not deleted) images (a query)."""
    return (select(BoardImage.image_id).join(Image, col(Image.id) == col(BoardImage.image_id))
            .where(col(BoardImage.board_id) == board_id, col(Image.deleted_at).is_(None)))


def shown_cover(s: Session, board: Board) -> int | None:
    """The chosen cover while it is a live image on the board, else the newest one there (the board page's first
    tile), else None: taking the cover off the board, or deleting it, falls back without anyone choosing again."""
    assert board.id is not None
    if board.cover_image_id is not None and s.exec(live_on_board(board.id).where(
            col(BoardImage.image_id) == board.cover_image_id)).first() is not None:
        return board.cover_image_id
    newest: int | None = s.exec(live_on_board(board.id).order_by(col(Image.created_at).desc(), col(Image.id).desc())
                                .limit(1)).first()
    return newest


def board_info(s: Session, board: Board, role: str) -> BoardInfo:
    assert board.id is not None
    count = s.exec(select(func.count()).select_from(live_on_board(board.id).subquery())).one()
    group = s.get(Group, board.group_id) if board.group_id is not None else None
    cover = shown_cover(s, board)
    return BoardInfo(id=board.id, name=board.name, description=board.description, owner_id=board.user_id,
                     cover_image_id=cover, cover_chosen=cover is not None and cover == board.cover_image_id,
                     group_id=board.group_id, group_name=group.name if group else None, image_count=int(count),
                     created_at=board.created_at, role=role)
