"""A closed tab, and an element a page removes, are freed by reference counting, not left for the garbage collector
(pages/_free.py, pages/_live.py, pages/frame.py; issue 18). Each test disables the collector before the deletion:
whatever is still alive then waits for a collection (with the survivor freeze, for the periodic whole scan)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from nicegui import Client, ui
from nicegui.page import page
from nicegui.testing import User

from pages._free import weak
from pages._live import on_prompt_events
from pages.frame import SignedOut, _CheckedServices
from tests.ui.helpers import sign_in


@contextmanager
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()  # from here only reference counting frees anything
    try:
        yield
    finally:
        gc.enable()


def observables(*elements: ui.element) -> list[weakref.ref[Any]]:
    return [weakref.ref(o) for e in elements for o in (e._props, e._classes, e._style)]


def marked_on_change(field: ui.input) -> ui.input:
    """The element's own change handler holds it (a closure of its own, not the test's frame)."""
    field.on_value_change(lambda: field.classes('changed'))
    return field


@pytest.fixture
async def app_up(user: User) -> None:
    await sign_in(user, then='/dashboard')  # the app is up, its pages (and pages/_free.py) installed


@pytest.mark.usefixtures('app_up')
async def test_a_deleted_clients_elements_go_without_a_collection() -> None:
    client = Client(page('/free-test'))
    with client:
        with ui.card() as card:
            label = ui.label('a "quoted" label')
            button = ui.button('a button', on_click=lambda: None)
            field = ui.input('a field').props('outlined')
    parts = observables(card, label, button, field)
    del card, label, button, field
    with no_collector():
        client.delete()
        alive = [r for r in parts if r() is not None]
    assert alive == [], f'{len(alive)} of {len(parts)} props/classes/style still alive: they wait for the collector'


@pytest.mark.usefixtures('app_up')
async def test_an_element_a_live_page_removes_goes_without_a_collection() -> None:
    client = Client(page('/free-test'))
    with client:
        with ui.column() as column:
            field = marked_on_change(ui.input('a field'))
            label = ui.label('a label')
    parts = [*observables(field, label), weakref.ref(field)]
    del field, label
    try:
        with no_collector():
            column.clear()
            alive = [r for r in parts if r() is not None]
        assert alive == [], f'{len(alive)} of {len(parts)} still alive after the page removed them'
    finally:
        client.delete()


@pytest.mark.usefixtures('app_up')
async def test_a_closed_tab_with_live_updates_goes_with_its_page_objects() -> None:
    class View:  # a page's view: its live-update handler is one of its methods, it holds the client
        def __init__(self) -> None:
            self.client = ui.context.client
            self.label = ui.label('waiting')
            self.client.on_connect(self.connected)

        def connected(self) -> None:
            self.label.classes('connected')

        def on_events(self, batch: list[Any]) -> None:
            self.label.text = str(len(batch))

    client = Client(page('/free-test'))
    with client:
        view = View()
        on_prompt_events(1, view.on_events)
    refs = {'client': weakref.ref(client), 'view': weakref.ref(view)}
    del view
    with no_collector():
        client.delete()
        del client
        alive = [name for name, r in refs.items() if r() is not None]
    assert alive == [], f'{alive} still alive after the tab closed: they wait for the collector'


async def test_a_page_context_and_its_checked_services_are_no_cycle_and_a_gone_page_acts_no_more() -> None:
    checks: list[str] = []

    class Context:  # stands in for pages.frame.PageContext: the checked services hold its require_user
        async def require_user(self) -> None:
            checks.append('checked')

    checked = _CheckedServices(object())  # type: ignore[arg-type]
    ctx = Context()
    checked.checked_by(ctx)  # type: ignore[arg-type]
    checked.building = False
    await checked._run_check()
    assert checks == ['checked']
    ctx.services = checked  # type: ignore[attr-defined]  # as PageContext holds them
    ref = weakref.ref(ctx)
    with no_collector():
        del ctx
        assert ref() is None, 'the context and its services are a reference cycle'
    with pytest.raises(SignedOut):  # its page is gone: an action still queued must not run unchecked
        await checked._run_check()


async def test_weak_calls_the_method_while_its_object_lives_and_does_nothing_once_it_is_gone() -> None:
    class View:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def pick(self, name: str) -> str:
            self.seen.append(name)
            return f'picked {name}'

        async def load(self, name: str) -> str:
            self.seen.append(name)
            return f'loaded {name}'

    view = View()
    pick, load = weak(view.pick), weak(view.load)
    assert pick('a "quoted" name') == 'picked a "quoted" name'
    assert await load('b') == 'loaded b'
    assert view.seen == ['a "quoted" name', 'b']
    ref = weakref.ref(view)
    with no_collector():
        del view
        assert ref() is None, 'weak() kept its object alive'
    assert pick('c') is None
    assert await load('d') is None  # still awaitable: its callers await it
