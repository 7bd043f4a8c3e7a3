"""The public page of a board link, as a stranger sees it (issue 16): a lightbox (the image large, its prompt as text,
previous and next) and "Download all" as a zip, both only while the link works."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import timedelta

from nicegui import ui
from nicegui.testing import User

from nanogen.models import utcnow
from tests.support.gallery import ada_with_images, svc
from tests.ui.helpers import eventually, should_not_see, should_see

HOSTILE_PROMPT = 'a <b>fox</b> "in" snow :class=evil \\'


def text_of(user: User, marker: str) -> str:
    return user.find(marker=marker).elements.pop().text


async def linked_board(user: User) -> tuple[int, int, int, str]:
    """Ada's board with a fox and (newer) a whale, and a public link to it: (ada, fox, whale, token)."""
    ada, [(fox,), (whale,)] = await ada_with_images(user, (HOSTILE_PROMPT, 1, 1024), ('a blue whale singing', 1, 1024))
    board = await svc().library.boards.create(ada, 'Open studio', 'for <i>everyone</i>')
    await svc().library.boards.add_images(ada, board.id, [fox, whale])
    link = await svc().library.boards.create_link(ada, board.id, expires_in=timedelta(days=1))
    return ada, fox, whale, link.path.removeprefix('/b/')


async def test_a_stranger_walks_the_board_in_a_lightbox_and_downloads_it_all(
        user: User, create_user: Callable[[], User]) -> None:
    _ada, fox, whale, token = await linked_board(user)
    stranger = create_user()
    await stranger.open(f'/b/{token}')
    await should_see(stranger, 'Open studio')
    await should_see(stranger, 'for <i>everyone</i>')
    stranger.find(marker=f'linked-{whale}').click()  # the newest first, as on the board's page
    await should_see(stranger, marker='public-prompt')
    assert text_of(stranger, 'public-prompt') == 'a blue whale singing'
    assert text_of(stranger, 'public-position') == 'Image 1 of 2'
    assert stranger.find(marker='public-lightbox-image').elements.pop().source == f'/b/{token}/files/{whale}/image'
    stranger.find(marker='public-next').click()
    await eventually(lambda: text_of(stranger, 'public-position') == 'Image 2 of 2')
    prompt = stranger.find(marker='public-prompt').elements.pop()
    assert (type(prompt), prompt.text) == (ui.label, HOSTILE_PROMPT)  # the prompt is text, never HTML or a prop
    image = stranger.find(marker='public-lightbox-image').elements.pop()
    assert image.source == f'/b/{token}/files/{fox}/image'
    assert image.props['alt'] == HOSTILE_PROMPT and 'class' not in image.props and ':class' not in image.props
    assert not stranger.find(marker='public-next').elements.pop().enabled
    stranger.find(marker='public-prev').click()
    await eventually(lambda: text_of(stranger, 'public-position') == 'Image 1 of 2')
    stranger.find(marker='public-close').click()

    stranger.find(marker='download-all').click()
    response = await eventually(lambda: stranger.download.http_responses[-1:])
    zipped = response[0]
    assert zipped.status_code == 200 and zipped.headers['content-type'] == 'application/zip'
    assert 'Open' not in zipped.headers['content-disposition']  # the file name tells nothing the page does not
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert len(archive.namelist()) == 2


async def test_after_a_revoke_or_expiry_the_open_page_stops_showing_the_board(
        user: User, create_user: Callable[[], User]) -> None:
    ada, fox, _whale, token = await linked_board(user)
    stranger = create_user()
    await stranger.open(f'/b/{token}')
    await should_see(stranger, marker=f'linked-{fox}')
    (link,) = await svc().library.boards.links_of(ada, (await svc().library.boards.visible_to(ada))[0].id)
    await svc().library.boards.revoke_link(ada, link.board_id, link.id)
    stranger.find(marker=f'linked-{fox}').click()  # a tab opened before the revoke
    await should_see(stranger, marker='board-link-gone')
    await should_not_see(stranger, 'Open studio')
    await should_not_see(stranger, marker='public-prompt')
    assert (await stranger.http_client.get(f'/b/{token}/zip')).status_code == 404
    assert (await stranger.http_client.get(f'/b/{token}/files/{fox}/image')).status_code == 404

    board = (await svc().library.boards.visible_to(ada))[0]
    second = (await svc().library.boards.create_link(ada, board.id, expires_in=timedelta(days=1))).path
    await stranger.open(second)
    await should_see(stranger, marker='download-all')
    svc().library.clock = lambda: utcnow() + timedelta(days=2)
    try:
        stranger.find(marker='download-all').click()  # expired while the page was open
        await should_see(stranger, marker='board-link-gone')
        assert stranger.download.http_responses == []
        await stranger.open(second)
        await should_see(stranger, marker='board-link-gone')
    finally:
        svc().library.clock = utcnow
    await stranger.open('/b/' + 'x' * 500)  # forged: the same message, never a 500
    await should_see(stranger, marker='board-link-gone')
