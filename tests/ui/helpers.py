"""Helpers for `user`-fixture tests: sign in the way a person does."""

from __future__ import annotations

import asyncio

from nicegui.testing import User


async def sign_in(user: User, name: str = 'Ada', email: str = 'ada@example.com', then: str = '/dashboard') -> None:
    await user.open(f'/login?redirect_to={then}')
    user.find(marker='name').type(name)
    user.find(marker='email').type(email)
    user.find(marker='sign-in').click()
    for _ in range(50):  # the navigation runs as a background task
        await asyncio.sleep(0.05)
        if user.back_history and user.back_history[-1].startswith('/auth/local'):
            break
    else:  # still on the login page: say why, instead of letting the test fail later somewhere puzzling
        shown = [getattr(e, 'text', '') for e in user.find(marker='login-error').elements]
        raise AssertionError(f'sign_in({email!r}) never left the login page; it shows {shown!r}')
    await asyncio.sleep(0.1)
    # Issue 13 item 4: fail loudly here if the sign-in bounced (e.g. back to /login?error=...).
    identity = getattr(user.client.request.state, 'identity', None)
    assert identity is not None and identity.email == email.strip().lower(), (
        f'sign_in({email!r}) ended on {user.client.page.path} as {identity!r}, not signed in as {email!r}')


def elements(user: User, **filters: object) -> list:
    """The elements matching `user.find(...)`, or [] (find itself raises when nothing matches)."""
    try:
        return list(user.find(**filters).elements)  # type: ignore[arg-type]
    except AssertionError:
        return []


async def eventually(check, timeout: float = 10.0) -> None:
    """Wait until `check()` is truthy; the page updates on its own, with no reload."""
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check(), 'the page never reached the expected state'
