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


async def test_the_user_menu_is_built_when_it_first_opens_and_signs_out(user: User) -> None:
    """Issue 18: most page loads never open the avatar's menu, so its items are built on the first open."""
    await sign_in(user, then='/history')
    (menu,) = user.find(marker='user-menu').elements
    assert menu.value is False and not menu.default_slot.children
    menu.value = True  # the avatar clicked: Quasar opens it and tells the server
    labels = [e.text for e in menu.descendants() if isinstance(e, ui.item_section) and getattr(e, 'text', '')]
    assert labels[:3] == ['Dashboard', 'Generate', 'Gallery'] and labels[-1] == 'Sign out'
    assert any(getattr(e, 'text', '') == 'ada@example.com' for e in menu.descendants())
    menu.value = False
    menu.value = True  # opening again builds nothing twice
    assert [e.text for e in menu.descendants() if isinstance(e, ui.item_section) and getattr(e, 'text', '')] == labels
    user.find(marker='menu-sign-out').click()
    await should_see(user, 'Sign in')


async def test_dark_mode_button_cycles_auto_dark_light_and_is_saved(user: User) -> None:
    """Issue 12 finding 6: a new user (no saved choice, auto) could not switch: toggle() raised ValueError."""
    from nicegui import app

    await sign_in(user, then='/history')
    (dark,) = user.find(kind=ui.dark_mode).elements
    button = user.find(marker='dark-mode')
    (element,) = button.elements
    assert dark.value is None and element.props['icon'] == 'brightness_auto'
    seen = []
    for _ in range(3):
        button.click()
        seen.append((dark.value, element.props['icon']))
    assert seen == [(True, 'dark_mode'), (False, 'light_mode'), (None, 'brightness_auto')]
    button.click()
    await user.open('/history')  # the choice survives a reload
    (dark,) = user.find(kind=ui.dark_mode).elements
    assert dark.value is True
    assert app.storage.user['dark'] is True



async def test_the_header_links_the_pages_in_order_as_one_element(user: User) -> None:
    """Issue 18: every open tab holds its header, so its page links are one element (pages/_nav_row.js)."""
    await sign_in(user, then='/history')
    (row,) = user.find(marker='nav-row').elements
    assert list(row.descendants()) == []
    assert [item['label'] for item in row.props['items']][:5] == ['Dashboard', 'Generate', 'Gallery', 'History',
                                                                  'Analytics']
    assert row.props['current'] == '/history'
    assert all(item['path'].startswith('/') and item['icon'] for item in row.props['items'])
