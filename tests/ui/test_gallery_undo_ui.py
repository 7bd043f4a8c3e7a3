"""The gallery's Undo stays reachable for its whole window (issue 12 finding 11)."""

from __future__ import annotations

import re

from nicegui.testing import User

from tests.support.gallery import fox_and_whale_in_lightbox, svc, tile_ids
from tests.ui.helpers import eventually, should_see

QUASAR_NOTIFICATIONS_Z = 9500  # .q-notifications__list in Quasar's CSS


async def test_undo_bar_stays_above_an_unrelated_notification(user: User) -> None:
    """Issue 12 finding 11: right after Delete, "Prompt copied to the clipboard" covered the 8-second Undo bar."""
    uid, fox, whale = await fox_and_whale_in_lightbox(user)
    user.find(marker='delete').click()
    await should_see(user, 'Image deleted.')
    user.find(marker='copy-prompt').click()  # the lightbox moved on to the whale: copy its prompt
    assert user.notify.contains('Prompt copied to the clipboard.')
    (undo,) = user.find(marker='undo').elements
    bar = undo.parent_slot.parent
    assert bar.visible
    z_index = int(re.sub(r'\D', '', bar.style['z-index']))
    assert z_index > QUASAR_NOTIFICATIONS_Z  # a toast is drawn below the bar, never over Undo
    user.find(marker='undo').click()
    await should_see(user, 'Image restored.')
    await eventually(lambda: tile_ids(user) == sorted([fox, whale]))
    assert await svc().library.get_image(uid, fox) is not None
