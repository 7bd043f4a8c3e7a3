"""A webhook receiver for tests: a real HTTP server that records each POST and answers from a script of statuses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.servers import serve_asgi


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str = ''
    answers: list[int] = field(default_factory=list)  # statuses to answer, in order; then 200
    got: list[Received] = field(default_factory=list)


@contextmanager
def webhook_receiver(*answers: int) -> Iterator[Receiver]:
    receiver = Receiver(answers=list(answers))

    async def hook(request: Request) -> PlainTextResponse:
        headers = {k.title(): v for k, v in request.headers.items()}
        receiver.got.append(Received(headers=headers, body=await request.body(), at=time.monotonic()))
        status = receiver.answers.pop(0) if receiver.answers else 200
        return PlainTextResponse('ok', status_code=status)

    with serve_asgi(Starlette(routes=[Route('/hook', hook, methods=['POST'])])) as base:
        receiver.url = f'{base}/hook'
        yield receiver
