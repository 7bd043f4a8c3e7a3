"""A closed tab's elements are freed by reference counting, not left for the garbage collector (pages/_free.py,
issue 18): their props, classes and style are self-referencing collections unless the delete breaks them."""

from __future__ import annotations

import gc
import weakref

from nicegui import Client, ui
from nicegui.page import page
from nicegui.testing import User

from tests.ui.helpers import sign_in


async def test_a_deleted_clients_elements_go_without_a_collection(user: User) -> None:
    await sign_in(user, then='/dashboard')  # the app is up, its pages (and pages/_free.py) registered
    client = Client(page('/free-test'))
    with client:
        with ui.card():
            ui.label('a "quoted" label')
            ui.button('a button', on_click=lambda: None)
            ui.input('a field').props('outlined')
    parts = [weakref.ref(o) for e in client.elements.values() if isinstance(e, (ui.card, ui.label, ui.button, ui.input))
             for o in (e._props, e._classes, e._style)]
    assert len(parts) >= 12
    gc.collect()
    gc.disable()  # from here only reference counting frees anything
    try:
        client.delete()
        alive = [r for r in parts if r() is not None]
    finally:
        gc.enable()
    assert alive == [], f'{len(alive)} of {len(parts)} props/classes/style still alive: they wait for the collector'
