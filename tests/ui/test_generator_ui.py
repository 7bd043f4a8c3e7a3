"""What a person sees: sign in locally, generate, watch the image arrive without reloading."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.helpers import eventually, should_see, sign_in
from tests.ui.studio import result_images, wait_for_cards


async def test_anonymous_visitor_is_sent_to_sign_in(user: User) -> None:
    await user.open('/generator')
    await should_see(user, 'Sign in to nanogen')
    await should_see(user, 'Local sign-in')


async def test_bad_email_gets_a_clear_message(user: User) -> None:
    await user.open('/login')
    user.find(marker='email').type('not-an-email')
    user.find(marker='sign-in').click()
    await should_see(user, 'Enter a valid email address')


async def test_sign_in_generate_and_see_the_image_live(user: User) -> None:
    await sign_in(user, then='/generator')
    await should_see(user, 'Demo provider')
    await should_see(user, 'Estimated cost: $0.0125')
    user.find(marker='prompt').type('a lighthouse at dusk, oil painting')
    user.find(marker='generate').click()
    await wait_for_cards(user)

    await eventually(lambda: result_images(user))  # the demo provider takes ~0.4 s; the page updates by itself
    await should_see(user, 'Completed')
    await should_see(user, 'a lighthouse at dusk, oil painting')


async def test_empty_and_too_long_prompts_are_refused_on_the_page(user: User) -> None:
    await sign_in(user, then='/generator')
    user.find(marker='generate').click()
    await should_see(user, 'Write a prompt: describe the image you want.')
    user.find(marker='prompt').type('x' * 2001)
    user.find(marker='generate').click()
    await should_see(user, 'The prompt is too long: 2001 characters, the limit is 2000.')


async def test_estimate_follows_size_and_count(user: User) -> None:
    await sign_in(user, then='/generator')
    user.find(marker='size').elements.pop().value = 1536
    user.find(marker='count').elements.pop().value = 3
    await should_see(user, 'Estimated cost: $0.1350')
