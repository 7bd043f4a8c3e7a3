"""The gallery's UI-test set-up (tests/ui): the running app's services, finished images made through the real
service and the demo provider, the tiles on the page, and Ada's fox and whale open in the lightbox."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from nanogen.bootstrap import Services
from nanogen.generation.requests import validate_request
from nanogen.models import Prompt
from nanogen.models import User as UserRow
from tests.ui.helpers import elements, eventually, should_see, sign_in
from tests.ui.studio import app_services

FOX, WHALE = 'a red fox in snow', 'a blue whale singing'


def svc() -> Services:
    return app_services()  # the services app.py built for this test


async def user_id(email: str = 'ada@example.com') -> int:
    row = await svc().db.run(lambda s: s.exec(select(UserRow).where(UserRow.email == email)).one())
    return row.id


async def make_images(uid: int, prompt: str, *, n: int = 1, size: int = 1024, ratio: str = '1:1') -> list[int]:
    """A finished generation through the real service and the demo provider (0.4 s)."""
    created = await svc().generation.create(uid, validate_request(prompt=prompt, size=size, aspect_ratio=ratio,
                                                                  num_images=n))
    async def completed() -> bool:
        done = await svc().db.run(lambda s: s.get(Prompt, created.id))
        assert done.status in ('PENDING', 'PROCESSING', 'COMPLETED'), done.error_message
        return done.status == 'COMPLETED'
    await eventually(completed, message=f'prompt {created.id} never completed')
    return [i.id for i in await svc().library.images_of_prompt(uid, created.id)]


def tile_ids(user: User) -> list[int]:
    return sorted(int(m.removeprefix('tile-')) for e in elements(user, kind=ui.image) for m in e._markers
                  if m.startswith('tile-'))


async def ada_with_images(user: User, *specs: tuple[str, int, int]) -> tuple[int, list[list[int]]]:
    await sign_in(user, then='/dashboard')
    uid = await user_id()
    made = [await make_images(uid, prompt, n=n, size=size) for prompt, n, size in specs]
    return uid, made



async def fox_and_whale_in_lightbox(user: User) -> tuple[int, int, int]:
    """Ada with one fox and one whale image on her open gallery, the fox in the lightbox: (uid, fox, whale)."""
    uid, [(fox,), (whale,)] = await ada_with_images(user, (FOX, 1, 1024), (WHALE, 1, 1024))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    user.find(marker=f'tile-{fox}').click()
    await should_see(user, marker='lightbox-prompt')
    return uid, fox, whale
