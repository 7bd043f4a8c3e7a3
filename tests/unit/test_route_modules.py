"""Issue 13: every HTTP route lives under nanogen/http/, one module per resource; no other module defines one.

Pages (pages/) register NiceGUI pages through @ui.page, which this does not count; what it refuses anywhere else
in nanogen/ or pages/ is a FastAPI/Starlette router, or a route decorator or add_*route call with a '/' path.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUTE_METHODS = {'get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'api_route', 'route', 'websocket',
                 'websocket_route', 'add_api_route', 'add_route', 'add_websocket_route', 'mount'}
ROUTER_NAMES = {'APIRouter', 'Router', 'APIRoute', 'Route', 'Mount'}
# Not nanogen's routes: the contract fake is the provider's stand-in, its own server, never mounted in the app.
NOT_APP_ROUTES = {'nanogen/provider/fake.py'}


def _is_route_call(node: ast.Call) -> bool:
    """`x.get('/path')`, `x.add_api_route('/path', ...)` and the like: a path literal as the first argument."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr in ROUTE_METHODS and node.args):
        return False
    first = node.args[0]
    return isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.startswith('/')


def route_definitions(source: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.ImportFrom) and any(a.name in ROUTER_NAMES for a in node.names):
            found.append(f'{name}:{node.lineno} imports {", ".join(a.name for a in node.names)}')
        elif isinstance(node, ast.Call) and _is_route_call(node):
            found.append(f'{name}:{node.lineno} defines a route ({ast.unparse(node)[:80]})')
    return found


def test_the_scan_sees_a_router_and_a_route_decorator() -> None:
    """The check itself can fail: a router import and a route decorator are both reported."""
    source = "from fastapi import APIRouter\nr = APIRouter()\n@r.post('/api/x')\nasync def x() -> None: ...\n"
    assert len(route_definitions(source, 'nanogen/ops/stray.py')) == 2
    assert route_definitions("cache.get('key')\nd.get('/x', 0) if False else None\n", 'x.py') == [
        "x.py:2 defines a route (d.get('/x', 0))"]  # a dict lookup by a '/' key is a false alarm worth the rule


def test_no_module_outside_nanogen_http_defines_routes() -> None:
    files = [ROOT / 'app.py', *(ROOT / 'nanogen').rglob('*.py'), *(ROOT / 'pages').rglob('*.py')]
    outside = [f for f in files if (ROOT / 'nanogen' / 'http') not in f.parents and 'migrations' not in f.parts
               and str(f.relative_to(ROOT)) not in NOT_APP_ROUTES]
    assert len(outside) > 30  # the tree really was scanned
    problems = [p for f in sorted(outside) for p in route_definitions(f.read_text(), str(f.relative_to(ROOT)))]
    assert problems == [], 'HTTP routes belong in nanogen/http/ (one module per resource):\n' + '\n'.join(problems)


def test_every_http_module_builds_its_routers_for_app_py() -> None:
    """app.py includes nanogen.http.routers(services); a route module missing from that list is never served."""
    import nanogen.http as http
    builders = {b.__module__ for b in http.ROUTER_BUILDERS}
    with_routes = {f'nanogen.http.{f.stem}' if f.parent.name == 'http' else 'nanogen.http.api'
                   for f in (ROOT / 'nanogen' / 'http').rglob('*.py')
                   if any('defines a route' in p for p in route_definitions(f.read_text(), f.name))}
    assert with_routes and with_routes <= builders, f'not in nanogen.http.ROUTER_BUILDERS: {with_routes - builders}'
