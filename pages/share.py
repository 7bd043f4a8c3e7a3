"""The public page behind a share link: the image and its prompt, for anyone holding the link."""

from __future__ import annotations

from nicegui import ui

from nanogen.errors import NotFound
from nanogen.library.shares import SHARE_GONE

from ._text import set_attr
from .frame import PAGE_RESPONSE_TIMEOUT_S, frame, services


@ui.page('/s/{token}', title='Shared image · nanogen', response_timeout=PAGE_RESPONSE_TIMEOUT_S)
async def shared_page(token: str) -> None:
    # Public on purpose (auth.PUBLIC_PREFIXES has '/s/'): the signed token is the only key, checked on every view.
    try:
        shared = await services().library.resolve_share(token)
    except NotFound:
        with frame(None, ''):
            with ui.column().classes('w-full items-center text-center gap-4 py-16'):
                ui.icon('link_off', size='64px').classes('opacity-50')
                ui.label(SHARE_GONE).classes('text-2xl').mark('share-gone')
                ui.label('The person who shared it may have revoked it, it may have expired, or the image was '
                         'deleted.').classes('opacity-70')
                ui.button('Go to nanogen', on_click=lambda: ui.navigate.to('/')).props('flat no-caps')
        return
    with frame(None, 'Shared image'):
        with ui.column().classes('w-full items-center gap-4'):
            set_attr(ui.image(f'/s/{token}/image').props('fit=contain'), 'alt', shared.prompt).classes(
                'w-full max-w-4xl max-h-[75vh]').mark('shared-image')
            ui.label(shared.prompt).classes('text-lg max-w-4xl whitespace-pre-wrap break-words').mark('shared-prompt')
            ui.label(f'{shared.width}×{shared.height} · {shared.aspect_ratio} · made with nanogen on '
                     f'{shared.created_at:%Y-%m-%d}').classes('text-sm opacity-60')
            ui.button('Download', icon='download', on_click=lambda: ui.download(f'/s/{token}/image?download=true')
                      ).props('flat no-caps').mark('shared-download')
