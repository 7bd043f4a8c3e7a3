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
    await asyncio.sleep(0.1)


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
