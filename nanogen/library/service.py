"""A user's library, the ONE service for reading and changing their prompts and images: reading, files for their
owner, favourites, share links (nanogen.library.shares), zips (nanogen.library.downloads) and the one delete path.

Deleting (gallery, API, retention, admin) always goes through `Library.delete_images` / `Deletes`: the image is
hidden from every reader at once and purged (objects, then rows) when its undo window is over; see
nanogen.library.deletes for each caller's window and undo.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from nanogen.config import Settings
from nanogen.db import Database
from nanogen.errors import InvalidInput, NotFound, StorageError
from nanogen.images.storage import Storage
from nanogen.library import downloads, queries
from nanogen.library.board_access import BoardInfo, shared_image_ids, visible_image
from nanogen.library.boards import Boards
from nanogen.library.deletes import Deleted, Deletes, delete_objects
from nanogen.library.files import VARIANTS, FileRef, file_ref
from nanogen.library.queries import ImageQuery, ImageRow, Page, PromptQuery, own_image
from nanogen.library.shares import SharedImage, ShareLink, Shares
from nanogen.library.tagging import Tagging
from nanogen.models import Image, Prompt, utcnow

__all__ = ['VARIANTS', 'FileRef', 'Library', 'Sweeps', 'file_ref']

log = logging.getLogger(__name__)


Sweep = Callable[[], Awaitable[Any]]


class Sweeps:
    """The library's clean-ups, run by the engine's periodic 'library-sweeps' job (bootstrap._run_sweeps): its own
    purge of deleted images whose window is over, and any another service adds (built outside so a service made
    before the library can hand its sweep in)."""

    def __init__(self) -> None:
        self._sweeps: list[Sweep] = []

    def add(self, sweep: Sweep) -> None:
        self._sweeps.append(sweep)

    def __iter__(self) -> Iterator[Sweep]:
        return iter(list(self._sweeps))

    def __contains__(self, sweep: object) -> bool:
        return sweep in self._sweeps


class Library:
    def __init__(self, *, db: Database, storage: Storage, settings: Settings, secret_key: str,
                 sweeps: Sweeps | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.storage = storage
        self.settings = settings
        self.secret_key = secret_key
        self.clock = clock
        self.undo_window_s = settings.undo_window_s  # delete_images' default undo window (the gallery's)
        self.shares = Shares(db=db, storage=storage, settings=settings, secret_key=secret_key,
                             clock=lambda: self.clock())
        self.boards = Boards(db=db, clock=lambda: self.clock())  # board CRUD and access: library.boards.<op>
        self.tagging = Tagging(db)  # tags, stars and saved searches: library.tagging.<op>
        self.sweeps = sweeps if sweeps is not None else Sweeps()
        self.deletes = Deletes(db=db, storage=storage)
        self.sweeps.add(self.purge_deleted)  # deleted images go even if their timer died in a restart

    async def stop(self) -> None:
        await self.deletes.stop()

    # ------------------------------------------------------------------ reading
    async def get_prompt(self, user_id: int, prompt_id: int) -> Prompt:
        prompt = await self.db.run(lambda s: s.get(Prompt, prompt_id))
        if prompt is None or prompt.user_id != user_id:
            raise NotFound('That generation does not exist.')
        return prompt

    async def prompts_by_id(self, user_id: int, prompt_ids: Iterable[int]) -> dict[int, Prompt]:
        """This user's prompts among `prompt_ids` in one read (another user's or missing ids are left out)."""
        ids = list(set(prompt_ids))
        if not ids:
            return {}

        def work(s: Session) -> dict[int, Prompt]:
            rows = s.exec(select(Prompt).where(col(Prompt.user_id) == user_id, col(Prompt.id).in_(ids)))
            return {p.id: p for p in rows if p.id is not None}
        return await self.db.run(work)

    async def images(self, user_id: int, query: ImageQuery, *, cursor: str | None = None,
                     limit: int = 60) -> Page[ImageRow]:
        """A filtered page of the user's live images (the gallery, the dashboard, the edit picker, the API)."""
        return await queries.list_images(self.db, user_id, query, cursor=cursor, limit=limit)

    async def prompts(self, user_id: int, query: PromptQuery, *, cursor: str | None = None,
                      limit: int = 50) -> Page[Prompt]:
        """A filtered page of the user's prompts (the history page and its CSV export, the API)."""
        return await queries.list_prompts(self.db, user_id, query, cursor=cursor, limit=limit)

    async def count_prompts(self, user_id: int, query: PromptQuery) -> int:
        return await queries.count_prompts(self.db, user_id, query)

    async def images_of_prompts(self, user_id: int, prompt_ids: list[int]) -> dict[int, list[Image]]:
        """The live images of several of the user's prompts in one read, by prompt id, in position order."""
        return await queries.images_of_prompts(self.db, user_id, prompt_ids)

    async def image_ids_of_prompts(self, user_id: int, prompt_ids: Iterable[int]) -> dict[int, list[int]]:
        """The live image ids of each of these prompts of this user, in position order, in one read."""
        ids = list(set(prompt_ids))
        if not ids:
            return {}

        def work(s: Session) -> dict[int, list[int]]:
            found: dict[int, list[int]] = {}
            for prompt_id, image_id in s.exec(
                    select(Image.prompt_id, Image.id).where(col(Image.prompt_id).in_(ids), col(Image.user_id) == user_id,
                                                            col(Image.deleted_at).is_(None))
                    .order_by(col(Image.prompt_id), col(Image.position))):
                found.setdefault(prompt_id, []).append(int(image_id or 0))
            return found
        return await self.db.run(work)

    async def images_of_prompt(self, user_id: int, prompt_id: int) -> list[Image]:
        def work(s: Session) -> list[Image]:
            return list(s.exec(select(Image).where(col(Image.prompt_id) == prompt_id, col(Image.user_id) == user_id,
                                                   col(Image.deleted_at).is_(None))
                               .order_by(col(Image.position))))
        return await self.db.run(work)

    async def recent_prompts(self, user_id: int, *, limit: int = 20, unfinished_only: bool = False) -> list[Prompt]:
        def work(s: Session) -> list[Prompt]:
            q = select(Prompt).where(col(Prompt.user_id) == user_id)
            if unfinished_only:
                q = q.where(col(Prompt.status).in_(('PENDING', 'PROCESSING')))
            return list(s.exec(q.order_by(col(Prompt.created_at).desc(), col(Prompt.id).desc()).limit(limit)))
        return await self.db.run(work)

    async def get_image(self, user_id: int, image_id: int) -> Image:
        return await self.db.run(lambda s: own_image(s, user_id, image_id))

    async def image_rows(self, user_id: int, image_ids: Iterable[int]) -> list[ImageRow]:
        """The viewer's own live images among `image_ids`, in the order asked (others are silently left out)."""
        return await queries.image_rows(self.db, user_id, image_ids)

    async def image_row(self, user_id: int, image_id: int) -> ImageRow:
        rows = await self.image_rows(user_id, [image_id])
        if not rows:
            raise NotFound('That image does not exist.')
        return rows[0]

    async def visible_image_row(self, user_id: int, image_id: int) -> ImageRow:
        """An image the viewer may see (their own, or on a board shared with their group): the lightbox's versions."""
        rows = await queries.image_rows(self.db, user_id, [image_id], visible=True)
        if not rows:
            raise NotFound('That image does not exist.')
        return rows[0]

    # ------------------------------------------------------------------ favourites
    async def set_favourite(self, user_id: int, image_id: int, value: bool) -> bool:
        return await self._favourite(user_id, image_id, lambda _old: value)

    async def toggle_favourite(self, user_id: int, image_id: int) -> bool:
        return await self._favourite(user_id, image_id, lambda old: not old)

    async def _favourite(self, user_id: int, image_id: int, change: Callable[[bool], bool]) -> bool:
        def work(s: Session) -> bool:
            image = own_image(s, user_id, image_id)
            image.is_favourite = change(image.is_favourite)
            s.add(image)
            s.commit()
            return image.is_favourite
        return await self.db.write(work)

    # ------------------------------------------------------------------ share links (nanogen.library.shares)
    async def create_share(self, user_id: int, image_id: int, *, expires_in: timedelta | None = None) -> ShareLink:
        return await self.shares.create_share(user_id, image_id, expires_in=expires_in)

    async def shares_of(self, user_id: int, image_id: int) -> list[ShareLink]:
        return await self.shares.shares_of(user_id, image_id)

    async def revoke_share(self, user_id: int, share_id: int) -> None:
        await self.shares.revoke_share(user_id, share_id)

    async def resolve_share(self, token: str) -> SharedImage:
        """The image behind a public link; every link that does not work gets the same NotFound."""
        return await self.shares.resolve_share(token)

    def public_url(self, shared: SharedImage) -> str | None:
        return self.shares.public_url(shared)

    # ------------------------------------------------------------------ zip download (nanogen.library.downloads)
    async def build_zip(self, user_id: int, image_ids: list[int]) -> AsyncIterator[bytes]:
        """The chosen images (the viewer's own only) as a streamed zip; one foreign or missing id refuses the lot."""
        return await downloads.build_zip(self.db, self.storage, user_id, image_ids)

    async def file_for(self, user_id: int, image_id: int, variant: str) -> FileRef:
        """The object behind an image, for its owner or a member of a group it is shared with on a board; anyone
        else gets the same NotFound as a missing id."""
        if variant not in VARIANTS:
            raise NotFound('No such file.')
        image = await self.db.run(lambda s: visible_image(s, user_id, image_id))
        return file_ref(image, variant)

    # ------------------------------------------------------------------ boards (nanogen.library.boards)
    async def board_images(self, user_id: int, board_id: int, query: ImageQuery, *, cursor: str | None = None,
                           limit: int = 60) -> Page[ImageRow]:
        """A page of the images on a board the viewer may see (its owner, or a member of its group)."""
        await self.boards.get(user_id, board_id)
        return await queries.list_board_images(self.db, board_id, query, cursor=cursor, limit=limit)

    async def team_images(self, user_id: int, query: ImageQuery, *, cursor: str | None = None,
                          limit: int = 60) -> Page[ImageRow]:
        """The Team gallery: images on boards shared with a group the viewer belongs to."""
        return await queries.list_images_in(self.db, shared_image_ids(user_id), f't{user_id}', query, cursor=cursor,
                                            limit=limit)

    async def linked_board_images(self, token: str, query: ImageQuery, *, cursor: str | None = None,
                                  limit: int = 60) -> tuple[BoardInfo, Page[ImageRow]]:
        """The board behind a public link and a page of its images."""
        board = await self.boards.resolve_link(token)
        return board, await queries.list_board_images(self.db, board.id, query, cursor=cursor, limit=limit)

    async def linked_file(self, token: str, image_id: int, variant: str) -> FileRef:
        """An image file through a board's public link: the link must work and the image be on that board."""
        if variant not in ('image', 'thumb'):
            raise NotFound('No such file.')
        board = await self.boards.resolve_link(token)
        return file_ref(await self.boards.image_on_board(board.id, image_id), variant)

    async def linked_board_zip(self, token: str) -> tuple[int, AsyncIterator[bytes]]:
        """A public link's "Download all": the board's newest images (a zip's most), streamed; (how many, chunks).
        The link is checked first, as for its page and its files."""
        board = await self.boards.resolve_link(token)
        images = await self.boards.newest_images(board.id, limit=downloads.ZIP_MAX_IMAGES)
        if not images:
            raise InvalidInput('This board has no images yet.')
        return len(images), await downloads.zip_images(self.storage, images, log_as=f'public link of board {board.id}')

    async def build_board_zip(self, user_id: int, board_id: int, image_ids: list[int]) -> AsyncIterator[bytes]:
        """Chosen images of a board the viewer may see, as one streamed zip (ids not on the board refuse the lot)."""
        await self.boards.get(user_id, board_id)
        images = [await self.boards.image_on_board(board_id, i) for i in image_ids]
        return await downloads.zip_images(self.storage, images, log_as=f'user {user_id} board {board_id}')

    async def read(self, ref: FileRef) -> bytes:
        return await self.storage.get(ref.key)

    async def url_for(self, ref: FileRef, *, download: bool = False) -> str | None:
        """A short-lived presigned URL when the store can make one; None means: serve it through the app."""
        return await self.storage.presigned_url(ref.key, expires_s=self.settings.presign_expiry_s,
                                                filename=ref.filename if download else None)

    # ------------------------------------------------------------------ deleting (see nanogen.library.deletes)
    async def delete_images(self, user_id: int, image_ids: Iterable[int], *,
                            undo_window_s: float | None = None) -> Deleted:
        """The one delete path: hidden from every reader at once, purged after the window (default: the
        settings' undo window, `self.undo_window_s`; 0 purges before returning). NotFound if any id is not the
        user's live image. The sweep purges hidden rows older than the settings' window, so a longer window is
        cut to it."""
        window = self.undo_window_s if undo_window_s is None else undo_window_s
        return await self.deletes.delete_images(user_id, image_ids, undo_window_s=window)

    async def restore_images(self, user_id: int, image_ids: Iterable[int]) -> list[int]:
        """Undo a delete still inside its window; returns the ids brought back (gone ones are skipped)."""
        return await self.deletes.restore(user_id, image_ids)

    async def delete_image(self, user_id: int, image_id: int) -> None:
        """Delete one image now, no undo (objects, then the row)."""
        await self.delete_images(user_id, [image_id], undo_window_s=0)

    async def purge_deleted(self, *, ids: Iterable[int] | None = None) -> int:
        """Purge the deleted images whose undo window is over (the loop runs this; so does each delete's timer)."""
        return await self.deletes.purge_deleted(window_s=self.settings.undo_window_s, ids=ids)

    async def retry_pending_deletes(self) -> int:
        return await self.deletes.retry_pending_deletes()

    async def delete_all_of(self, user_id: int) -> int:
        """Every image of the user through the one path, no undo; then any object left under their prefix (a
        result whose rows never came). Returns how many objects went, as far as known."""
        images = await self.deletes.delete_where(col(Image.user_id) == user_id)
        try:
            stray = await self.storage.list_keys(f'users/{user_id}/')
        except StorageError:
            log.warning('could not list the objects of user %s; deleted the known ones', user_id)
            stray = []
        await delete_objects(self.db, self.storage, stray)
        return 3 * images + len(stray)
