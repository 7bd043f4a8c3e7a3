"""The whole Google-style sign-in in real Chromium: asked-for page -> sign-in -> provider -> back there -> sign out."""

from __future__ import annotations

import pytest
from nicegui.testing import Screen
from selenium.webdriver.common.by import By

from tests.support.oidc import google_claims, set_claims

pytestmark = pytest.mark.browser


def visible_text(screen: Screen) -> str:
    return screen.selenium.find_element(By.TAG_NAME, 'body').text


def consent(screen: Screen, sub: str) -> None:
    """On the provider's own page: type the account and authorize."""
    field = screen.selenium.find_element(By.NAME, 'sub')
    field.send_keys(sub)
    screen.selenium.find_element(By.XPATH, '//button[normalize-space()="Authorize"]').click()


def test_sign_in_lands_on_the_page_first_asked_for_and_sign_out_ends_it(screen: Screen, oidc_app: str) -> None:
    # Offline: the provider's page has no icon and loads a CDN stylesheet; the avatar URL is not reachable.
    screen.allowed_js_errors += ['favicon.ico', 'pico', 'ada.png']
    set_claims(oidc_app, 'google-sub-ada', **google_claims('ada@example.com', name='Ada Lovelace'))
    screen.open('/profile')
    screen.should_contain('Sign in to nanogen')
    screen.should_not_contain('Local sign-in')  # with an OIDC client there is no local sign-in
    screen.click('Sign in with Google')
    screen.wait_for(lambda: 'oauth2/authorize' in screen.selenium.current_url)
    consent(screen, 'google-sub-ada')
    screen.wait_for(lambda: screen.selenium.current_url.endswith('/profile'))
    screen.wait_for(lambda: 'Ada Lovelace\nada@example.com' in visible_text(screen))
    screen.click('Sign out')
    screen.should_contain('Your team\'s image studio')
    screen.open('/profile')
    screen.should_contain('Sign in to nanogen')


def test_a_refused_sign_in_shows_its_message_on_the_login_page(screen: Screen, oidc_app: str) -> None:
    screen.allowed_js_errors += ['favicon.ico', 'pico']
    set_claims(oidc_app, 'google-sub-eve', **google_claims('eve@example.com', verified=False))
    screen.open('/login?redirect_to=https://evil.example')
    screen.click('Sign in with Google')
    screen.wait_for(lambda: 'oauth2/authorize' in screen.selenium.current_url)
    consent(screen, 'google-sub-eve')
    screen.should_contain('Your email address is not verified with the sign-in provider')
    assert '/login' in screen.selenium.current_url and 'evil.example' not in screen.selenium.current_url
