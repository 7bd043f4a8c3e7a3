"""Reference images on the generator: validated uploads, previews, signed URLs the provider can fetch."""

from __future__ import annotations

import io
import json

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from PIL import Image

from tests.ui.helpers import elements, eventually, should_see, sign_in
from tests.ui.studio import app_services, text_of, user_id, wait_for_cards


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new('RGB', size, (200, 80, 40)).save(buf, format='PNG')
    return buf.getvalue()


async def upload(user: User, name: str, data: bytes, content_type: str) -> None:
    element = user.find(marker='reference-upload').elements.pop()
    assert isinstance(element, ui.upload)
    await element.handle_uploads([SmallFileUpload(name, content_type, data)])


async def test_a_non_image_upload_is_refused_with_its_message(user: User) -> None:
    await sign_in(user, then='/generator')
    await upload(user, 'notes.txt', b'just some text, not a picture', 'text/plain')
    await eventually(lambda: text_of(user, 'reference-error') != '')
    assert text_of(user, 'reference-error') == 'notes.txt: The uploaded file is not an image. Use PNG, JPEG, WebP or GIF.'
    assert not elements(user, marker='reference-preview')
    uid = await user_id(app_services(), 'ada@example.com')
    assert await app_services().storage.list_keys(f'users/{uid}/refs/') == []  # nothing stored


async def test_damaged_and_empty_uploads_get_their_own_messages(user: User) -> None:
    await sign_in(user, then='/generator')
    await upload(user, 'cut.png', png_bytes()[:60], 'image/png')
    await eventually(lambda: 'damaged or incomplete' in text_of(user, 'reference-error'))
    await upload(user, 'empty.png', b'', 'image/png')
    await eventually(lambda: text_of(user, 'reference-error') == 'empty.png: The uploaded file is empty.')


async def test_reference_images_are_previewed_stored_and_sent_as_fetchable_urls(user: User) -> None:
    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    await upload(user, 'sketch.png', png_bytes(), 'image/png')
    await eventually(lambda: len(elements(user, marker='reference-preview')) == 1)
    (key,) = await services.storage.list_keys(f'users/{uid}/refs/')
    assert key.endswith('.png')
    user.find(marker='prompt').type('turn this sketch into a poster')
    user.find(marker='generate').click()
    await wait_for_cards(user)
    (prompt,) = await services.library.recent_prompts(uid)
    assert prompt.task_type == 'IMAGE_TO_IMAGE'
    (url,) = json.loads(prompt.reference_urls or '[]')
    assert '/refs/' in url
    # The provider fetches it without a session: the signature is the permission.
    path = '/refs/' + url.rsplit('/refs/', 1)[1]
    response = await user.http_client.get(path)
    assert response.status_code == 200 and response.headers['content-type'] == 'image/png'
    assert Image.open(io.BytesIO(response.content)).size == (64, 48)
    forged = await user.http_client.get(path[:-3] + 'xyz', headers={'accept': 'application/json'})
    assert forged.status_code == 404 and forged.json()['error']['code'] == 'not_found'


async def test_removing_a_reference_deletes_it(user: User) -> None:
    await sign_in(user, then='/generator')
    services = app_services()
    uid = await user_id(services, 'ada@example.com')
    await upload(user, 'a.png', png_bytes(), 'image/png')
    await eventually(lambda: len(elements(user, marker='reference-preview')) == 1)
    assert await services.storage.list_keys(f'users/{uid}/refs/')
    user.find(marker='reference-remove').click()
    await eventually(lambda: not elements(user, marker='reference-preview'))
    async def removed() -> bool:
        return await services.storage.list_keys(f'users/{uid}/refs/') == []
    await eventually(removed, message='the reference stayed in storage')


async def test_without_public_url_or_r2_the_page_says_what_references_need(user: User) -> None:
    await sign_in(user)
    app_services().settings.nanobanana_api_key = 'a-real-key-means-no-demo'  # a real provider, local disk, no URL
    await user.open('/generator')
    await should_see(user, 'Reference images need NANOGEN_PUBLIC_URL')
    assert not elements(user, marker='reference-upload')
