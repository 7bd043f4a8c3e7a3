"""Helpers for `user`-fixture tests: sign in the way a person does, and wait for the page (one timeout for all)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from nicegui.testing import User

# How long any UI test waits for the page (or the services behind it) to get somewhere. One figure for the whole
# suite: a loaded 2-core CI machine needs seconds, and a passing wait returns as soon as its check holds.
WAIT_S = 10.0
RETRIES = int(WAIT_S / 0.1)  # NiceGUI's should_see/should_not_see try again every 0.1 s


async def sign_in(user: User, name: str = 'Ada', email: str = 'ada@example.com', then: str = '/dashboard') -> None:
    await user.open(f'/login?redirect_to={then}')
    user.find(marker='name').type(name)
    user.find(marker='email').type(email)
    user.find(marker='sign-in').click()
    for _ in range(int(WAIT_S / 0.05)):  # the navigation runs as a background task; the suite's standard wait
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


async def eventually(check: Callable[[], Any], timeout: float = WAIT_S,
                     message: str = 'the page never reached the expected state') -> Any:
    """Wait until `check()` (a function or a coroutine function) is truthy and return its value: the page and the
    services update on their own, with no reload. Every ad-hoc wait in the UI tests goes through here."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f'{message} (waited {timeout:g} s)')
        await asyncio.sleep(0.05)


async def should_see(user: User, target: Any = None, **filters: Any) -> None:
    """`user.should_see`, waiting as long as every other wait here (NiceGUI's own default gives up after 0.3 s)."""
    await user.should_see(target, retries=RETRIES, **filters)


async def should_not_see(user: User, target: Any = None, **filters: Any) -> None:
    """`user.should_not_see`, giving the page as long to drop the element; it returns at once when it is gone."""
    await user.should_not_see(target, retries=RETRIES, **filters)
