"""GET /healthz (the process answers) and GET /readyz (its database and storage answer); both public."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from nanogen.bootstrap import Services

READY_CACHE_S = 2.0  # /readyz is public: a flood of probes costs one check per replica every 2 s


async def dependency_checks(services: Services) -> dict[str, str]:
    """What this replica needs to serve: its database and its storage ('ok' or 'unreachable' each)."""
    checks: dict[str, str] = {}
    try:
        await services.db.run(lambda s: s.connection().exec_driver_sql('SELECT 1'))
        checks['database'] = 'ok'
    except Exception:
        checks['database'] = 'unreachable'
    try:
        await services.storage.ping()
        checks['storage'] = 'ok'
    except Exception:
        checks['storage'] = 'unreachable'
    return checks


def build_health_router(services: Services) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get('/healthz')
    async def healthz() -> JSONResponse:
        return JSONResponse({'success': True, 'data': {'status': 'ok'}, 'error': None})

    ready: dict[str, Any] = {'at': -READY_CACHE_S, 'checks': {}}

    @router.get('/readyz')
    async def readyz() -> JSONResponse:
        """The database and the storage only: a provider outage must not take every replica out of the load
        balancer (admins see the provider at /admin/status). Cached briefly, since anyone may call it."""
        if services.draining:  # SIGTERM: leave the balancer at once, while running steps end
            return JSONResponse({'success': False, 'data': {'status': 'draining'},
                                 'error': {'code': 'draining', 'message': 'This replica is shutting down.'}},
                                status_code=503)
        now = time.monotonic()
        if now - ready['at'] >= READY_CACHE_S:
            ready['checks'], ready['at'] = await dependency_checks(services), now
        checks: dict[str, str] = ready['checks']
        ok = all(v == 'ok' for v in checks.values())
        return JSONResponse({'success': ok, 'data': checks,
                             'error': None if ok else {'code': 'not_ready', 'message': 'A dependency is unreachable.'}},
                            status_code=200 if ok else 503)

    return router
