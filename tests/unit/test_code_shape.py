"""Issue 13: small modules with one job. No module over 400 lines and no function over 60 without a reason.

A reason is a line starting with `Long because:` in the module's or the function's docstring; it says why the
length is the clearer shape (a table of routes, a state machine kept in one place), so a reviewer can disagree.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
REASON = 'Long because:'


def _sources() -> list[Path]:
    files = [ROOT / 'app.py', *sorted((ROOT / 'nanogen').rglob('*.py')), *sorted((ROOT / 'pages').glob('*.py'))]
    return [f for f in files if 'migrations' not in f.parts]


def _has_reason(node: ast.AST) -> bool:
    doc = ast.get_docstring(node) if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef) else None
    return doc is not None and any(line.strip().startswith(REASON) for line in doc.splitlines())


def shape_problems(source: str, name: str) -> list[str]:
    tree = ast.parse(source, name)
    problems = []
    lines = len(source.splitlines())
    if lines > MAX_MODULE_LINES and not _has_reason(tree):
        problems.append(f'{name}: {lines} lines (over {MAX_MODULE_LINES}, no "{REASON}" in its docstring)')
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _has_reason(node):
                problems.append(f'{name}:{node.lineno} {node.name}() is {length} lines (over {MAX_FUNCTION_LINES}, '
                                f'no "{REASON}" in its docstring)')
    return problems


def test_no_module_or_function_is_long_without_a_reason() -> None:
    files = _sources()
    assert len(files) > 50
    problems = [p for f in files for p in shape_problems(f.read_text(), str(f.relative_to(ROOT)))]
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize(('source', 'found'), [
    ('def f():\n' + '    x = 1\n' * 70, 1),
    ('def f():\n    """Long because: a table."""\n' + '    x = 1\n' * 70, 0),
    ('x = 1\n' * 401, 1),
    ('"""A module.\n\nLong because: one state machine."""\n' + 'x = 1\n' * 401, 0),
    ('def f():\n' + '    x = 1\n' * 59, 0),
])
def test_the_shape_check_counts_and_honours_reasons(source: str, found: int) -> None:
    assert len(shape_problems(source, 'm.py')) == found
