"""NiceGUI pages. Drop a module here that uses `frame` and `guarded_page`, and it is served (see README)."""

from __future__ import annotations

import importlib
import pkgutil

from nanogen.studio import Studio

from . import _free
from ._errors import install_error_page
from .frame import set_services


def register(studio: Studio) -> list[str]:
    """Hand the pages' facade to the frame, then import every page module so its decorators register the pages."""
    set_services(studio)
    install_error_page()
    _free.install()  # a closed tab's elements freed at once, not left to the garbage collector
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name != 'frame' and not m.name.startswith('_')]
    for name in sorted(names):
        importlib.import_module(f'{__name__}.{name}')
    return names
