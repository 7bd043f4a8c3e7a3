"""The one way pages put user text (prompts, names, tags) into an element's attributes."""

from __future__ import annotations

import re
from typing import TypeVar

from nicegui.element import Element

E = TypeVar('E', bound=Element)

# A plain HTML attribute name: never `:x` (NiceGUI evaluates that as JavaScript) or `@x` / `v-on:x` (handlers).
_PLAIN_NAME = re.compile(r'[A-Za-z][A-Za-z0-9\-]*')


def set_attr(element: E, name: str, text: str | int) -> E:
    """Give `element` the attribute `name` with `text` as its value, exactly as written.

    Never `.props(f'alt="{text}"')`: `.props()` parses its string, so user text there can end the quote and add
    props of its own (a `:name` prop is JavaScript to the browser), and a newline or `\\N`/`\\x`/`\\u` makes its
    `ast.literal_eval` raise, so the page answers 500. Assigning the props dict parses nothing: the browser gets a
    plain string value. Props is observable, so an element already on screen updates itself.
    """
    if not _PLAIN_NAME.fullmatch(name):
        raise ValueError(f'not a plain attribute name: {name!r}')
    element.props[name] = str(text)
    return element
