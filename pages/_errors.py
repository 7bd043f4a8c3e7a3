"""The page shown when a page fails: a generic message; the exception itself goes to the log only."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from nicegui import Client, app, ui
from nicegui.page import page

GENERIC = 'Something went wrong on our side. Try again, or go back to the dashboard.'


def _error_page_content() -> None:
    with ui.column().classes('w-full items-center gap-4 py-20'):
        ui.label('500').classes('text-6xl')
        ui.label('Server error').classes('text-xl')
        ui.label(GENERIC).classes('text-lg opacity-70')
        ui.link('Back to the dashboard', '/dashboard')


async def _unhandled(request: Request, exception: Exception) -> Response:
    """Replaces NiceGUI's own 500 handler, which puts `ExceptionClass: message` on the page."""
    if not request.scope.get('nicegui_page_path'):
        raise exception  # not a page: Starlette answers a plain "Internal Server Error"
    app.handle_exception(exception)  # logged with its traceback, as NiceGUI does
    with Client(page(''), request=request) as client:
        _error_page_content()
    return client.build_response(request, 500)


def install_error_page() -> None:
    """Both of NiceGUI's 500 paths: an exception inside a page function, and one raised around it."""
    app.on_page_exception(_error_page_content)
    app.add_exception_handler(Exception, _unhandled)
