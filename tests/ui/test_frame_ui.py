"""The shared frame: navigation in a stable order, and a drawer behind a hamburger for phones."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.ui.helpers import should_see, sign_in


async def test_drawer_lists_the_studio_pages_in_order_and_navigates(user: User) -> None:
    await sign_in(user, then='/history')
    (drawer,) = user.find(kind=ui.left_drawer).elements
    assert drawer.value is False  # closed until the hamburger opens it
    user.find(marker='nav-menu').click()
    assert drawer.value is True
    labels = [e.text for e in drawer.descendants() if isinstance(e, ui.item_section) and getattr(e, 'text', '')]
    assert labels[:5] == ['Dashboard', 'Generate', 'Gallery', 'History', 'Analytics']
    user.find(marker='drawer-analytics').click()
    await should_see(user, 'Days are UTC.')  # navigation runs as a background task
