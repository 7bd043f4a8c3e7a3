"""A closed tab, and an element a page removes, are freed by reference counting, not left to the garbage collector
(issue 18).

NiceGUI links an element to its slots, client and parent with weak references, but each element's props, classes
and style are observable collections whose change handler is a bound method of the collection itself: a reference
cycle per collection, three per element. And a page's lifecycle handlers (`client.on_connect`, `on_delete`: the
live updates' closures) hold the client that holds them: one more cycle per tab, which kept the tab's page objects
(views, rows, whatever their closures reach) alive with it. With the survivor freeze (nanogen/gctune.py) such cycle
garbage waits for the periodic whole scan: at 200 tabs, 1,000 generations it was ~380,000 objects (~30-60 MB).

So: a deleted element (`Element._handle_delete`, which NiceGUI calls for every element it removes, a whole tab's
included) forgets its collections' change handlers, and a deleted client forgets its lifecycle handlers once they
have run. Nothing else changes: NiceGUI sends nothing for a deleted element or client anyway.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from nicegui import Client, app, ui
from nicegui.element import Element

P = ParamSpec('P')
R = TypeVar('R')

_original_handle_delete = Element._handle_delete


def forget_change_handlers(element: Element) -> None:
    """Break the props/classes/style self-cycles of `element` (being deleted), and drop the handlers it keeps
    itself (NiceGUI's `_change_handlers` of a value element, `_selection_handlers` of a table, ...: often a page's
    closure or view method that holds the element back)."""
    for observable in (element._props, element._classes, element._style):
        handlers: Any = getattr(observable, '_change_handlers', None)
        if isinstance(handlers, list):
            handlers.clear()
    for name, value in vars(element).items():
        if name.endswith('_handlers') and isinstance(value, list):
            value.clear()
    if isinstance(element, ui.tab):  # a tab holds its tabs, whose value may be the tab
        element.tabs = None


def _handle_delete(self: Element) -> None:
    _original_handle_delete(self)
    forget_change_handlers(self)


def forget_lifecycle_handlers(client: Client) -> None:
    """Drop `client`'s own connect/disconnect/delete/exception handlers: it is being deleted and its delete handlers
    have run (NiceGUI calls the app's delete handlers after the client's)."""
    for handlers in (client.connect_handlers, client.disconnect_handlers, client.delete_handlers,
                     client._exception_handlers):
        handlers.clear()


def weak(method: Callable[P, R]) -> Callable[P, R]:
    """`method` (bound), not keeping its object alive: for a page object that hands its own methods to a part it
    holds (the gallery view to its grid, the job board to its cards). Held strongly, each such pair is a reference
    cycle: the closed tab's view, and everything it reaches, would wait for the garbage collector. Once the object
    is gone (its tab closed) a call does nothing and returns None; while the tab lives, its elements hold the
    object."""
    ref = weakref.WeakMethod(method)  # type: ignore[arg-type, var-type]
    if inspect.iscoroutinefunction(method):  # its callers await it: gone, it is still awaitable
        async def call_async(*args: P.args, **kwargs: P.kwargs) -> Any:
            bound = ref()
            return None if bound is None else await bound(*args, **kwargs)
        return cast(Callable[P, R], call_async)

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        bound = ref()
        return cast(R, None) if bound is None else cast(Callable[P, R], bound)(*args, **kwargs)
    return call


def install() -> None:
    """Once per app."""
    if Element._handle_delete is not _handle_delete:  # type: ignore[comparison-overlap]
        Element._handle_delete = _handle_delete  # type: ignore[method-assign]
    if forget_lifecycle_handlers not in app._delete_handlers:
        app.on_delete(forget_lifecycle_handlers)
