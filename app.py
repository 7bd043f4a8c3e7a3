"""nanogen's composition root: Settings -> services -> middleware, routes and pages -> ui.run()."""

from __future__ import annotations

import logging

from nicegui import app, ui

import pages
from nanogen.auth import AuthMiddleware
from nanogen.bootstrap import Services, build_services
from nanogen.config import Settings
from nanogen.logs import setup_logging
from nanogen.web import build_router, install_error_handlers


def create_app(settings: Settings | None = None) -> Services:
    settings = settings or Settings()
    setup_logging(settings)
    services = build_services(settings)
    services.db.migrate()  # before serving anything: NiceGUI does not hold requests until startup handlers finish
    app.add_middleware(AuthMiddleware, auth=services.auth)  # inside the session middleware ui.run adds
    install_error_handlers(app)
    app.include_router(build_router(services))
    pages.register(services)
    app.on_startup(services.start)
    app.on_shutdown(services.stop)
    return services


services = create_app()

if __name__ in {'__main__', '__mp_main__'}:
    settings = services.settings
    ui.run(host=settings.host, port=settings.port, title='nanogen', reload=False, show=False,
           storage_secret=services.secret_key, favicon='🍌', show_welcome_message=False,
           session_middleware_kwargs={'max_age': settings.session_max_age_s, 'same_site': 'lax',
                                      'https_only': settings.https},
           proxy_headers=True, forwarded_allow_ips='*' if settings.https else '127.0.0.1')
