"""The gallery's UI-test set-up (tests/ui): the running app's services, finished images made through the real
service and the demo provider, the tiles on the page, and Ada's fox and whale open in the lightbox."""

from __future__ import annotations

import json
from typing import Any

from nicegui.testing import User
from sqlmodel import Session, select

from nanogen.bootstrap import Services
from nanogen.generation.requests import validate_request
from nanogen.models import Image, Prompt
from nanogen.models import User as UserRow
from pages._gallery_tile import TileRun
from tests.ui.helpers import eventually, should_see, sign_in
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


def tile_runs(user: User) -> list[TileRun]:
    """The gallery grid's runs of tiles (one element each, pages/_gallery_tiles.js), in page order."""
    grids = user.find(marker='grid').elements if user.client is not None else set()
    return [run for grid in grids for run in grid if isinstance(run, TileRun)]


def tile_ids(user: User) -> list[int]:
    return sorted(t['id'] for run in tile_runs(user) for t in run.tiles)


def tile(user: User, image_id: int) -> dict[str, Any] | None:
    """What the tile of this image shows (id, alt, fav, versions), if the grid has it."""
    return next((t for run in tile_runs(user) for t in run.tiles if t['id'] == image_id), None)


def versions(user: User, image_id: int) -> int:
    """The count on the tile's versions badge (1: no badge)."""
    shown = tile(user, image_id)
    assert shown is not None, f'no tile for image {image_id}'
    return int(shown['versions'])


def offers_edit(user: User, image_id: int) -> bool:
    """The tile is on the grid and shows its Edit button."""
    return tile(user, image_id) is not None and bool(run_of(user, image_id).props['editable'])


def run_of(user: User, image_id: int) -> TileRun:
    (run,) = [r for r in tile_runs(user) if image_id in r.ids()]
    return run


def tile_event(user: User, image_id: int, event: str, arg: Any) -> None:
    """What the tile's run emits in the browser ('open', 'edit', 'drag' with the id; 'select' with {id, value}):
    nicegui.js sends the argument JSON-encoded to the client's event handler. A crafted event reaches it too."""
    run_event(user, run_of(user, image_id), event, arg)


def run_event(user: User, run: TileRun, event: str, arg: Any) -> None:
    """`event` with `arg` from this run, whatever tile it names (a crafted one, too)."""
    assert user.client is not None
    (listener_id,) = [i for i, listener in run._event_listeners.items() if listener.type == event]
    user.client.handle_event({'id': run.id, 'listener_id': listener_id, 'args': [json.dumps(arg)]})


def open_tile(user: User, image_id: int) -> None:
    """A click on the thumbnail: the lightbox opens on it."""
    tile_event(user, image_id, 'open', image_id)


def ticked(user: User, image_id: int) -> bool:
    return image_id in run_of(user, image_id).props['selected']


def tick(user: User, image_id: int, value: bool | None = None) -> None:
    """A click on the tile's selection box (`value` None: it toggles, as a click does)."""
    tile_event(user, image_id, 'select', {'id': image_id, 'value': not ticked(user, image_id) if value is None
                                          else value})


async def ada_with_images(user: User, *specs: tuple[str, int, int]) -> tuple[int, list[list[int]]]:
    await sign_in(user, then='/dashboard')
    uid = await user_id()
    made = [await make_images(uid, prompt, n=n, size=size) for prompt, n, size in specs]
    return uid, made



async def ada_with_65_images(user: User) -> int:
    """Ada with one real image and 64 more rows pointing at its objects (paging needs rows, not pixels): its id."""
    uid, [(first,)] = await ada_with_images(user, ('the first of many moons', 1, 1024))
    source = await svc().library.get_image(uid, first)

    def copies(s: Session) -> None:
        for n in range(1, 65):
            s.add(Image(user_id=uid, prompt_id=source.prompt_id, position=n, key=source.key,
                        original_key=source.original_key, thumb_key=source.thumb_key, width=1024, height=1024))
        s.commit()
    await svc().db.write(copies)
    return first


async def fox_and_whale_in_lightbox(user: User) -> tuple[int, int, int]:
    """Ada with one fox and one whale image on her open gallery, the fox in the lightbox: (uid, fox, whale)."""
    uid, [(fox,), (whale,)] = await ada_with_images(user, (FOX, 1, 1024), (WHALE, 1, 1024))
    await user.open('/gallery')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    open_tile(user, fox)
    await should_see(user, marker='lightbox-prompt')
    return uid, fox, whale
