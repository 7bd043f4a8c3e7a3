"""Streaming zip downloads (zipstream-ng): each file is read when the stream reaches it, so memory holds one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from zipfile import ZIP_DEFLATED, ZIP_STORED

from zipstream import ZipStream


@dataclass(frozen=True)
class ZipMember:
    name: str
    data: bytes
    compress: bool = False  # PNG/JPEG are compressed already: storing them is as small and much faster


async def stream_zip(members: AsyncIterable[ZipMember]) -> AsyncIterator[bytes]:
    """The zip of `members`, in order, as chunks. `members` should read each file's bytes only when asked for
    the next one (an async generator over storage reads), so only one file is buffered at a time."""
    archive = ZipStream(compress_type=ZIP_STORED)
    async for member in members:
        archive.add(member.data, member.name, compress_type=ZIP_DEFLATED if member.compress else ZIP_STORED)
        del member  # the archive's generator holds the bytes until they are written: keep no second reference
        # CRC and deflate run in a thread, so a large file does not block the event loop.
        for chunk in await asyncio.to_thread(list, archive.all_files()):
            yield chunk
    for chunk in archive.footer():
        yield chunk


async def started(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Produce the first chunk now, before any response is sent: a failure there (the store is down) still
    becomes a proper error response instead of a cut-off download."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b''

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk
    return rest()
