"""A batch's results as one streamed zip: `metadata.csv` first (row, prompt, variables, model, size, cost, files),
then each row's images named after their row, read from storage one at a time."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from sqlmodel import Session, col, select

from nanogen.batches.service import BatchService, BatchView
from nanogen.csvfile import csv_lines
from nanogen.errors import InvalidInput
from nanogen.images.storage import Storage
from nanogen.library.boards import Boards
from nanogen.models import Image
from nanogen.zips import ZipMember, started, stream_zip

log = logging.getLogger(__name__)
METADATA_COLUMNS = ('row', 'prompt', 'variables', 'model', 'size', 'aspect_ratio', 'status', 'cost', 'files')


def file_name(row_number: int, position: int, key: str) -> str:
    return f'row-{row_number:04d}-{position + 1}.{key.rsplit(".", 1)[-1]}'


def metadata_csv(view: BatchView, names: dict[int, list[str]]) -> str:
    lines: list[list[object]] = [list(METADATA_COLUMNS)]
    for r in view.rows:
        lines.append([r.row_number, r.prompt, json.dumps(r.variables, ensure_ascii=False) if r.variables else '',
                      r.model, r.size, r.aspect_ratio, r.status, f'{r.cost:.6f}', ' '.join(names.get(r.row_number, []))])
    return csv_lines(lines)


async def batch_zip(batches: BatchService, storage: Storage, user_id: int, batch_id: int) -> AsyncIterator[bytes]:
    """The zip of the batch so far (rows without images are listed in metadata.csv with no files)."""
    view = await batches.get(user_id, batch_id)  # NotFound for anyone else's
    wanted = [i for r in view.rows for i in r.image_ids]

    def find(s: Session) -> dict[int, Image]:
        found: dict[int, Image] = {}
        for i in range(0, len(wanted), 500):
            found.update({im.id: im for im in s.exec(select(Image).where(col(Image.id).in_(wanted[i:i + 500]),
                                                                         col(Image.user_id) == user_id))
                          if im.id is not None})
        return found
    images = await batches.db.run(find)
    files: list[tuple[str, Image]] = []
    names: dict[int, list[str]] = {}
    for r in view.rows:
        for image_id in r.image_ids:
            if (image := images.get(image_id)) is not None:
                name = file_name(r.row_number, image.position, image.key)
                files.append((name, image))
                names.setdefault(r.row_number, []).append(name)

    async def members() -> AsyncIterator[ZipMember]:
        yield ZipMember('metadata.csv', metadata_csv(view, names).encode(), compress=True)
        for name, image in files:
            yield ZipMember(name, await storage.get(image.key))
    log.info('user %s downloads batch %s (%d images) as a zip', user_id, batch_id, len(files))
    return await started(stream_zip(members()))


async def put_on_board(batches: BatchService, boards: Boards, user_id: int, batch_id: int, board_id: int) -> list[int]:
    """Put every image of the batch on a board the user may edit; returns the ids newly added."""
    ids = await batches.image_ids(user_id, batch_id)
    if not ids:
        raise InvalidInput('This batch has no images yet.', field='batch')
    added: list[int] = []
    for i in range(0, len(ids), 500):  # the board service adds at most 500 at once
        added += await boards.add_images(user_id, board_id, ids[i:i + 500])
    return added
