"""Share links: a signed, expiring, revocable public link to one image. The link's token is stored only as its
sha256 (the same hash as API tokens and session ids); shares made before migration 0003 answer to a signed id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import NotFound
from nanogen.images.storage import Storage
from nanogen.library.files import FileRef, file_ref
from nanogen.library.links import expires_at, hash_token, is_live, revoke
from nanogen.library.queries import own_image
from nanogen.models import Image, Prompt, Share

log = logging.getLogger(__name__)
SHARE_GONE = 'This link is no longer available.'


@dataclass(frozen=True)
class ShareLink:
    """A share as its owner sees it: the path to hand out, and whether it still works."""

    id: int
    image_id: int
    path: str  # '/s/<token>'
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def live(self, now: datetime) -> bool:
        return is_live(self.revoked_at, self.expires_at, now)


@dataclass(frozen=True)
class SharedImage:
    """What a public share link shows: the picture and its prompt, nothing about the owner."""

    share_id: int
    image_id: int
    prompt: str
    width: int
    height: int
    aspect_ratio: str
    created_at: datetime
    file: FileRef


class Shares:
    """The library's share links (`Library.create_share` and friends delegate here); `clock` is asked on each call,
    so the library's clock (which tests move) is the one that counts."""

    def __init__(self, *, db: Database, storage: Storage, settings: Settings, secret_key: str,
                 clock: Callable[[], datetime]) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self._signer = URLSafeSerializer(secret_key, salt='nanogen.share')  # links made before migration 0003
        self._share_key = hashlib.sha256(b'nanogen.share-token:' + secret_key.encode()).digest()

    def share_token(self, salt: str) -> str:
        """A share's link token: random (the salt), unguessable without the secret key, found by its sha256 only,
        and never an id, so a deleted share's link can never show another share (issue 11, finding 3)."""
        return base64.urlsafe_b64encode(hmac.new(self._share_key, salt.encode(), hashlib.sha256).digest()).decode(
            ).rstrip('=')

    def share_path(self, share: Share) -> str:
        if share.salt is None:  # made before 0003: the old signed-id link keeps working
            return f'/s/{self._signer.dumps(share.id)}'
        return f'/s/{self.share_token(share.salt)}'

    async def create_share(self, user_id: int, image_id: int, *, expires_in: timedelta | None = None) -> ShareLink:
        now = self.clock()
        until = expires_at(now, expires_in)

        def work(s: Session) -> Share:
            own_image(s, user_id, image_id)
            salt = secrets.token_urlsafe(24)
            share = Share(image_id=image_id, user_id=user_id, created_at=now, salt=salt,
                          token_hash=hash_token(self.share_token(salt)),
                          expires_at=until)
            s.add(share)
            s.commit()
            s.refresh(share)
            return share
        share = await self.db.write(work)
        log.info('user %s shared image %s (share %s)', user_id, image_id, share.id)
        return self._link(share)

    async def shares_of(self, user_id: int, image_id: int) -> list[ShareLink]:
        def work(s: Session) -> list[Share]:
            own_image(s, user_id, image_id)
            return list(s.exec(select(Share).where(col(Share.image_id) == image_id, col(Share.user_id) == user_id)
                               .order_by(col(Share.created_at).desc(), col(Share.id).desc())))
        return [self._link(row) for row in await self.db.run(work)]

    async def revoke_share(self, user_id: int, share_id: int) -> None:
        now = self.clock()

        def work(s: Session) -> None:
            share = s.get(Share, share_id)
            if share is None or share.user_id != user_id:
                raise NotFound('That share link does not exist.')
            if revoke(share, now):
                s.add(share)
                s.commit()
        await self.db.write(work)
        log.info('user %s revoked share %s', user_id, share_id)

    async def resolve_share(self, token: str) -> SharedImage:
        """The image behind a public link; any link that does not work (forged, revoked, expired, deleted
        image) gets the same NotFound, so a visitor learns nothing about what exists."""
        legacy_id: int | None = None
        if '.' in token:
            try:
                loaded = self._signer.loads(token)
            except BadSignature:
                raise NotFound(SHARE_GONE) from None
            legacy_id = loaded if isinstance(loaded, int) else None
        elif len(token) > 100:
            raise NotFound(SHARE_GONE)
        digest = hash_token(token)
        now = self.clock()

        def work(s: Session) -> SharedImage:
            if legacy_id is not None:  # only shares from before 0003 answer to a signed id
                share = s.exec(select(Share).where(col(Share.id) == legacy_id, col(Share.salt).is_(None))).first()
            else:
                share = s.exec(select(Share).where(col(Share.token_hash) == digest)).first()
            if share is None or not is_live(share.revoked_at, share.expires_at, now):
                raise NotFound(SHARE_GONE)
            image = s.get(Image, share.image_id)
            if image is None or image.deleted_at is not None or image.user_id != share.user_id:
                raise NotFound(SHARE_GONE)
            prompt = s.get(Prompt, image.prompt_id)
            assert share.id is not None
            return SharedImage(share_id=share.id, image_id=image.id or 0, prompt=prompt.prompt if prompt else '',
                               width=image.width, height=image.height,
                               aspect_ratio=prompt.aspect_ratio if prompt else '', created_at=image.created_at,
                               file=file_ref(image, 'image'))
        return await self.db.run(work)

    def public_url(self, shared: SharedImage) -> str | None:
        """The public bucket URL (R2_PUBLIC_URL) of a shared image, when there is one."""
        return self.storage.public_url(shared.file.key) if self.settings.r2_public_url else None

    def _link(self, share: Share) -> ShareLink:
        assert share.id is not None
        return ShareLink(id=share.id, image_id=share.image_id, path=self.share_path(share),
                         created_at=share.created_at, expires_at=share.expires_at, revoked_at=share.revoked_at)
