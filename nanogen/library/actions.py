"""The gallery's actions on a user's images: favourite, share links and zip downloads; delete with undo is the
library's one delete path (nanogen.library.deletes), reached through `soft_delete` / `undo_delete`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound
from nanogen.images.storage import Storage
from nanogen.library import queries
from nanogen.library.queries import ImageRow, own_image, own_images
from nanogen.library.service import FileRef, Library, file_ref
from nanogen.models import Image, Prompt, Share, utcnow
from nanogen.zips import ZipMember, started, stream_zip

log = logging.getLogger(__name__)
ZIP_MAX_IMAGES = 100
SHARE_GONE = 'This link is no longer available.'


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


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
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


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


def parse_ids(raw: str, *, limit: int = ZIP_MAX_IMAGES) -> list[int]:
    """'1,2,3' -> [1, 2, 3] (order kept, duplicates dropped); InvalidInput says what is wrong."""
    parts = [p.strip() for p in (raw or '').split(',') if p.strip()]
    if not parts:
        raise InvalidInput('Choose at least one image.', field='ids')
    ids: list[int] = []
    for part in parts:
        if not part.isdigit() or len(part) > 12:
            raise InvalidInput(f'"{part[:20]}" is not an image id: use numbers separated by commas.', field='ids')
        if int(part) not in ids:
            ids.append(int(part))
    if len(ids) > limit:
        raise InvalidInput(f'A zip holds at most {limit} images; you chose {len(ids)}.', field='ids')
    return ids


class Gallery:
    """Owns the gallery's writes; reading lists of images is `nanogen.library.queries`' job."""

    def __init__(self, *, db: Database, storage: Storage, library: Library, settings: Settings, secret_key: str,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.storage = storage
        self.library = library
        self.settings = settings
        self.clock = clock
        self.undo_window_s = settings.undo_window_s
        self._signer = URLSafeSerializer(secret_key, salt='nanogen.share')  # links made before migration 0003
        self._share_key = hashlib.sha256(b'nanogen.share-token:' + secret_key.encode()).digest()

    async def stop(self) -> None:
        """Nothing of its own runs: the delete timers are the library's (Library.stop ends them)."""

    # ------------------------------------------------------------------ reading single images
    async def image_rows(self, user_id: int, image_ids: Iterable[int]) -> list[ImageRow]:
        """The viewer's own live images among `image_ids`, in the order asked (others are silently left out)."""
        return await queries.image_rows(self.db, user_id, image_ids)

    async def image_row(self, user_id: int, image_id: int) -> ImageRow:
        rows = await self.image_rows(user_id, [image_id])
        if not rows:
            raise NotFound('That image does not exist.')
        return rows[0]

    # ------------------------------------------------------------------ favourites
    async def set_favourite(self, user_id: int, image_id: int, value: bool) -> bool:
        def work(s: Session) -> bool:
            image = own_image(s, user_id, image_id)
            image.is_favourite = value
            s.add(image)
            s.commit()
            return value
        return await self.db.write(work)

    async def toggle_favourite(self, user_id: int, image_id: int) -> bool:
        def work(s: Session) -> bool:
            image = own_image(s, user_id, image_id)
            image.is_favourite = not image.is_favourite
            s.add(image)
            s.commit()
            return image.is_favourite
        return await self.db.write(work)

    # ------------------------------------------------------------------ delete with undo (the library's one path)
    async def soft_delete(self, user_id: int, image_ids: Iterable[int]) -> list[int]:
        """Hide the images at once; they are removed for real after the undo window (or by the sweep)."""
        return (await self.library.delete_images(user_id, image_ids, undo_window_s=self.undo_window_s)).ids

    async def undo_delete(self, user_id: int, image_ids: Iterable[int]) -> list[int]:
        """Bring back images still inside their undo window; returns the ids restored (gone ones are skipped)."""
        return await self.library.restore_images(user_id, image_ids)

    @property
    def purge_deleted(self) -> Callable[..., Awaitable[int]]:
        """The library's purge of deleted images whose window is over (its loop sweeps with it)."""
        return self.library.purge_deleted

    # ------------------------------------------------------------------ share links
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
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidInput('A link must stay valid for some time: choose a later expiry.', field='expires_in')
        now = self.clock()

        def work(s: Session) -> Share:
            own_image(s, user_id, image_id)
            salt = secrets.token_urlsafe(24)
            share = Share(image_id=image_id, user_id=user_id, created_at=now, salt=salt,
                          token_hash=_sha256(self.share_token(salt)),
                          expires_at=now + expires_in if expires_in else None)
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
            if share.revoked_at is None:
                share.revoked_at = now
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
        digest = _sha256(token)
        now = self.clock()

        def work(s: Session) -> SharedImage:
            if legacy_id is not None:  # only shares from before 0003 answer to a signed id
                share = s.exec(select(Share).where(col(Share.id) == legacy_id, col(Share.salt).is_(None))).first()
            else:
                share = s.exec(select(Share).where(col(Share.token_hash) == digest)).first()
            if share is None or share.revoked_at is not None or (share.expires_at and share.expires_at <= now):
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

    # ------------------------------------------------------------------ zip download
    async def build_zip(self, user_id: int, image_ids: list[int]) -> AsyncIterator[bytes]:
        """The chosen images (the viewer's own only) as a streamed zip, each read from storage when its turn comes.
        One foreign or missing id refuses the lot, with the same 404 as any unknown id, before any byte is sent;
        so does a store that cannot give the first image."""
        if not image_ids:
            raise InvalidInput('Choose at least one image.', field='ids')
        if len(image_ids) > ZIP_MAX_IMAGES:
            raise InvalidInput(f'A zip holds at most {ZIP_MAX_IMAGES} images; you chose {len(image_ids)}.',
                               field='ids')

        def find(s: Session) -> list[Image]:
            rows = own_images(s, user_id, image_ids)
            if len(rows) != len(image_ids):
                raise NotFound('One of those images does not exist.')
            return [rows[i] for i in image_ids]
        images = await self.db.run(find)

        async def members() -> AsyncIterator[ZipMember]:
            names: set[str] = set()
            for image in images:
                ref = file_ref(image, 'image')
                yield ZipMember(_unique(ref.filename, names), await self.storage.get(ref.key))
        log.info('user %s downloads %d images as a zip', user_id, len(images))
        return await started(stream_zip(members()))


def _unique(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition('.')
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f'{stem}-{n}{dot}{ext}', n + 1
    taken.add(candidate)
    return candidate
