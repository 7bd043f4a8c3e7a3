"""A closed tab's elements are freed by reference counting when it goes, not left to the garbage collector (issue 18).

NiceGUI links an element to its slots, client and parent with weak references, but each element's props, classes
and style are observable collections whose change handler is a bound method of the collection itself: a reference
cycle per collection, three per element. So every element of every closed tab stayed in memory until a full
collection found it. With the survivor freeze (nanogen/gctune.py) that cycle garbage waits for the periodic whole
scan: at 100 tabs it was ~370,000 objects, most of them these collections. Clearing the handlers of a deleted
client's elements breaks those cycles; nothing else changes (a deleted client sends no updates anyway).
"""

from __future__ import annotations

from typing import Any

from nicegui import Client, app


def forget_change_handlers(client: Client) -> int:
    """Break the props/classes/style self-cycles of every element of `client` (being deleted); how many elements."""
    elements = list(client.elements.values())
    for element in elements:
        for observable in (element._props, element._classes, element._style):
            handlers: Any = getattr(observable, '_change_handlers', None)
            if isinstance(handlers, list):
                handlers.clear()
    return len(elements)


def install() -> None:
    """Once per app: NiceGUI calls app-wide delete handlers as each client is deleted, before its elements go."""
    if forget_change_handlers not in app._delete_handlers:
        app.on_delete(forget_change_handlers)
