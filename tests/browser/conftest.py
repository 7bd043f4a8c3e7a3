"""Real Chromium (the NiceGUI `screen` fixture) against app.py, with an OpenID provider served over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.oidc import CLIENT_ID, CLIENT_SECRET, serve_oidc_mock

# Debian's browser and driver; never download one at test time. Set before the session's driver fixture runs.
os.environ.setdefault('SE_OFFLINE', 'true')
if os.path.exists('/usr/bin/chromium'):
    os.environ.setdefault('CHROME_BINARY_LOCATION', '/usr/bin/chromium')


@pytest.fixture
def oidc_app(isolated_env: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """app.py configured for OpenID Connect sign-in against oidc-provider-mock; yields the provider's URL."""
    monkeypatch.setenv('AUTHLIB_INSECURE_TRANSPORT', '1')  # the provider speaks plain http on 127.0.0.1
    with serve_oidc_mock() as issuer:
        monkeypatch.setenv('GOOGLE_CLIENT_ID', CLIENT_ID)
        monkeypatch.setenv('GOOGLE_CLIENT_SECRET', CLIENT_SECRET)
        monkeypatch.setenv('NANOGEN_OIDC_METADATA_URL', f'{issuer}/.well-known/openid-configuration')
        yield issuer


SERVER_START_S = 20.0  # app.py's first start in a test process (imports, image workers) can take more than 3 s


@pytest.fixture(autouse=True)
def patient_first_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """`Screen.open` waits 3 s for the server it starts; on two busy cores (two test workers) the first start of
    app.py took longer and the page was refused (ERR_CONNECTION_REFUSED). It still fails after SERVER_START_S."""
    from nicegui.testing import Screen
    original = Screen.open

    def open_page(self: Screen, path: str, timeout: float = SERVER_START_S) -> None:
        original(self, path, timeout)
    monkeypatch.setattr(Screen, 'open', open_page)
