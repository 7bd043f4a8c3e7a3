"""Issue 11 findings 1 and 2: no page builds a NiceGUI props/classes/style string, or HTML, from anything but literals.

`.props()`, `.classes()` and `.style()` parse their string, so user text inside one can add props of its own (a
`:name` prop is JavaScript) or make the parser raise. Text that varies goes through `pages._text.set_attr` (or an
element argument); this scan keeps it that way for every page, including the ones written later.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import ClassVar

import pytest

from pages._text import set_attr

PAGES = Path(__file__).resolve().parents[2] / 'pages'
PARSED = {'props', 'classes', 'style'}  # element methods that parse a string
RAW_HTML = {'html', 'markdown', 'add_head_html', 'add_body_html', 'add_css', 'run_javascript'}


def _literal(node: ast.expr) -> bool:
    """A string written in the source, or a choice between two of them."""
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, str | bool)
    if isinstance(node, ast.IfExp):
        return _literal(node.body) and _literal(node.orelse)
    return False


def _constant(node: ast.expr) -> bool:
    """A literal or a module constant (UPPER_CASE name) holding one."""
    return _literal(node) or (isinstance(node, ast.Name) and node.id.isupper())


def violations(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        values = [*node.args, *(k.value for k in node.keywords)]
        name = node.func.attr
        if name in PARSED and not all(_constant(v) for v in values):
            found.append(f'{filename}:{node.lineno} .{name}() gets a computed string')
        if name in RAW_HTML and not all(_constant(v) for v in node.args[:1]):
            found.append(f'{filename}:{node.lineno} {name}() gets computed markup')
        if name == 'add_slot' and not all(_constant(v) for v in node.args[1:2]):  # a Vue template: code
            found.append(f'{filename}:{node.lineno} add_slot() gets a computed template')
    return found


# In a page's own Vue component, text reaches the DOM only through {{ }} and :attr bindings (escaped by Vue).
RAW_DOM = ('v-html', 'innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'Function(')


def test_page_components_bind_text_never_markup() -> None:
    files = sorted(PAGES.glob('*.js'))
    assert any(path.name == '_job_card.js' for path in files)
    found = [f'{path.name}: {word}' for path in files for word in RAW_DOM if word in path.read_text()]
    assert not found, found


def test_pages_pass_only_literals_to_parsed_strings() -> None:
    files = sorted(PAGES.glob('*.py'))
    assert len(files) > 10
    found = [v for path in files for v in violations(path.read_text(), path.name)]
    assert not found, '\n'.join(found)


@pytest.mark.parametrize('code', [
    "ui.image(src).props(f'alt=\"{prompt}\"')",
    "ui.image(src).props('alt=\"' + prompt + '\"')",
    "ui.label().classes(f'text-{tag}')",
    "ui.label().style(style)",
    "ui.html(prompt, sanitize=False)",
    "ui.card().props(f'data-prompt-id={pid}')",
    "table.add_slot('body-cell-prompt', f'<q-td>{prompt}</q-td>')",
])
def test_the_scan_catches_computed_strings(code: str) -> None:
    assert violations(code, 'x.py')


@pytest.mark.parametrize('code', [
    "ui.image(src).props('fit=contain')",
    "ui.item().props('clickable active' if current else 'clickable')",
    "button.props(remove='loading')",
    "ui.add_body_html(INFINITE_SCROLL_JS)",
    "table.add_slot('body-cell-status', STATUS_SLOT)",
    "search.add_slot('prepend')",
])
def test_the_scan_lets_literals_through(code: str) -> None:
    assert not violations(code, 'x.py')


@pytest.mark.parametrize('name', [':alt', '@click', 'v-on:click', 'alt x', '', 'alt="'])
def test_set_attr_refuses_names_that_are_not_plain_attributes(name: str) -> None:
    class Fake:
        props: ClassVar[dict[str, str]] = {}
    with pytest.raises(ValueError):
        set_attr(Fake(), name, 'text')  # type: ignore[type-var]


def test_set_attr_stores_the_text_verbatim() -> None:
    class Fake:
        def __init__(self) -> None:
            self.props: dict[str, str] = {}
    text = ":x='window.__pwned=1' \\ \" \n \\N{BULLET} \\x41 \\u12 <script>"
    assert set_attr(Fake(), 'alt', text).props == {'alt': text}  # type: ignore[type-var]
