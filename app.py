"""nanogen's composition root: Settings -> services -> middleware, routes and pages -> ui.run()."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from nicegui import app, ui
from starlette.middleware.sessions import SessionMiddleware

import pages
from nanogen import gctune
from nanogen.accounts.guard import AuthMiddleware
from nanogen.accounts.ratelimit import BodyLimitMiddleware
from nanogen.accounts.sessions import SecureCookies, session_options
from nanogen.bootstrap import Services, build_services, chain_sigterm, start_or_exit
from nanogen.config import Settings
from nanogen.http import routers
from nanogen.http.errors import install_error_handlers
from nanogen.http.headers import SecurityHeadersMiddleware
from nanogen.logs import setup_logging


def create_app(settings: Settings | None = None) -> Services:
    settings = settings or Settings()
    setup_logging(settings)
    services = build_services(settings)
    services.migrate()  # before serving anything: NiceGUI does not hold requests until startup handlers finish
    app.add_middleware(AuthMiddleware, auth=services.auth)  # inside the session middleware added next
    # Ours, not ui.run's (NiceGUI then adds no second one), so SecureCookies can wrap it for proxied HTTPS.
    app.add_middleware(SessionMiddleware, **session_options(settings, services.secret_key))
    app.add_middleware(SecureCookies)
    app.add_middleware(BodyLimitMiddleware)  # outside the guard: an oversized body is refused unread
    if settings.cors_origin_list:  # outside the guard, so browser preflights (which carry no token) get an answer
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origin_list, allow_credentials=False,
                           allow_methods=['GET', 'POST', 'DELETE'],
                           allow_headers=['Authorization', 'Content-Type', 'Idempotency-Key'],
                           expose_headers=['Retry-After', 'Location', 'Idempotent-Replayed'])
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)  # outermost: every answer carries them
    install_error_handlers(app)
    for router in routers(services):  # every HTTP route lives under nanogen/http, one module per resource
        app.include_router(router)
    pages.register(services.studio())  # the pages get the narrow facade, not the db (issue 13)
    app.state.services = services  # for tests that seed data; pages never read it (tests/unit/test_studio.py)
    app.on_startup(services.start)
    app.on_startup(lambda: chain_sigterm(services.begin_drain, services.drain))  # after uvicorn's own handler
    app.on_shutdown(services.stop)
    return services


services = start_or_exit(create_app)  # a bad setting: a short list on stderr and exit code 2

if __name__ in {'__main__', '__mp_main__'}:
    settings = services.settings
    gctune.limit_malloc_arenas()  # before uvicorn and the pools start their threads
    # The serving process only (tests import this module): full collections skip start-up's objects.
    services.after_start.append(lambda: gctune.freeze_startup(settings.gc_freeze, settings.gc_full_scan_s))
    ui.run(host=settings.host, port=settings.port, title='nanogen', reload=False, show=False,
           storage_secret=services.secret_key, favicon='🍌', show_welcome_message=False,
           proxy_headers=True, forwarded_allow_ips='*' if settings.https else '127.0.0.1',
           reconnect_timeout=settings.reconnect_timeout_s)  # also NiceGUI's socket ping timeout: 0.4 of it
