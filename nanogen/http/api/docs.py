"""The Swagger UI page for /api/docs, served from the assets the fastapi-offline wheel ships: nothing from a CDN."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from nanogen.errors import NotFound

ASSETS_PATH = '/api/docs/assets'
_ASSETS = {'swagger-ui-bundle.js': 'text/javascript', 'swagger-ui.css': 'text/css', 'favicon.png': 'image/png'}


def swagger_ui_page(openapi_url: str, title: str) -> HTMLResponse:
    # validatorUrl None: Swagger UI would otherwise load a badge from validator.swagger.io (blocked by the CSP).
    return get_swagger_ui_html(openapi_url=openapi_url, title=title,
                               swagger_js_url=f'{ASSETS_PATH}/swagger-ui-bundle.js',
                               swagger_css_url=f'{ASSETS_PATH}/swagger-ui.css',
                               swagger_favicon_url=f'{ASSETS_PATH}/favicon.png',
                               swagger_ui_parameters={'validatorUrl': None})


def add_asset_route(router: APIRouter) -> None:
    """GET /api/docs/assets/<name> for the few files the page loads; an allow-list, so no path reaches the disk."""
    static = files('fastapi_offline') / 'static'

    @router.get(ASSETS_PATH + '/{name}')
    async def swagger_asset(name: str) -> FileResponse:
        if name not in _ASSETS:
            raise NotFound('No such file.')
        return FileResponse(str(static / name), media_type=_ASSETS[name],
                            headers={'Cache-Control': 'public, max-age=86400'})
