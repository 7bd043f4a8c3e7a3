"""A board's public links (/b/<token>): made, listed and revoked by the board's owner, resolved for anyone holding
one. Like an image share: random, stored only as its sha256, expiring, revocable. `Boards` (nanogen.library.boards)
carries these operations, so callers keep saying `library.boards.create_link(...)`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from nanogen.db import Database
from nanogen.errors import NotFound
from nanogen.library.board_access import LINK_GONE, BoardInfo, audit_board, board_info, owned_board
from nanogen.library.links import LinkState, expires_at, hash_token, is_live, link_state, revoke
from nanogen.models import Board, BoardLink

log = logging.getLogger(__name__)
LINK_STATES = ('live', 'expired', 'revoked')


@dataclass(frozen=True)
class BoardLinkInfo:
    id: int
    board_id: int
    path: str  # '/b/<token>': shown once, when made
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class BoardLinkRow:
    """A link as its owner lists it later: the token is gone (only its hash is kept), its state is not."""

    id: int
    board_id: int
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> LinkState:
        """'revoked', 'expired' or 'live' at `now` (revoked wins: it was a person's decision)."""
        return link_state(self.revoked_at, self.expires_at, now)


class BoardLinkOps:
    """The link half of `Boards`: needs its database and clock."""

    db: Database
    clock: Callable[[], datetime]

    async def create_link(self, user_id: int, board_id: int, *, expires_in: timedelta | None = None) -> BoardLinkInfo:
        now = self.clock()
        until = expires_at(now, expires_in)
        token = secrets.token_urlsafe(32)

        def work(s: Session) -> BoardLink:
            owned_board(s, user_id, board_id)
            link = BoardLink(board_id=board_id, token_hash=hash_token(token), created_at=now, expires_at=until)
            s.add(link)
            s.flush()
            audit_board(s, user_id, 'board.link_create', board_id,
                        f'link:{link.id} expires:{link.expires_at.isoformat() if link.expires_at else "never"}')
            s.commit()
            s.refresh(link)
            return link
        link = await self.db.write(work)
        assert link.id is not None
        log.info('user %s made public link %s of board %s', user_id, link.id, board_id)
        return BoardLinkInfo(id=link.id, board_id=board_id, path=f'/b/{token}', created_at=link.created_at,
                             expires_at=link.expires_at)

    async def links_of(self, user_id: int, board_id: int) -> list[BoardLinkRow]:
        """The board's public links, newest first, revoked and expired ones included (owner only)."""
        def work(s: Session) -> list[BoardLinkRow]:
            owned_board(s, user_id, board_id)
            links = s.exec(select(BoardLink).where(col(BoardLink.board_id) == board_id)
                           .order_by(col(BoardLink.created_at).desc(), col(BoardLink.id).desc()))
            return [BoardLinkRow(id=link.id or 0, board_id=board_id, created_at=link.created_at,
                                 expires_at=link.expires_at, revoked_at=link.revoked_at) for link in links]
        return await self.db.run(work)

    async def revoke_link(self, user_id: int, board_id: int, link_id: int) -> None:
        now = self.clock()

        def work(s: Session) -> None:
            owned_board(s, user_id, board_id)
            link = s.get(BoardLink, link_id)
            if link is None or link.board_id != board_id:
                raise NotFound('That link does not exist.')
            if revoke(link, now):
                s.add(link)
                audit_board(s, user_id, 'board.link_revoke', board_id, f'link:{link_id}')
                s.commit()
        await self.db.write(work)
        log.info('user %s revoked public link %s of board %s', user_id, link_id, board_id)

    async def resolve_link(self, token: str) -> BoardInfo:
        """The board behind a public link; every link that does not work gets the same NotFound."""
        if not token or len(token) > 100:
            raise NotFound(LINK_GONE)
        digest, now = hash_token(token), self.clock()

        def work(s: Session) -> BoardInfo:
            link = s.exec(select(BoardLink).where(col(BoardLink.token_hash) == digest)).first()
            if link is None or not is_live(link.revoked_at, link.expires_at, now):
                raise NotFound(LINK_GONE)
            board = s.get(Board, link.board_id)
            if board is None:
                raise NotFound(LINK_GONE)
            return board_info(s, board, 'link')
        return await self.db.run(work)
