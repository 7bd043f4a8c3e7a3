"""Helpers for the studio pages' `user`-fixture tests: reach the running app's services, read marked labels."""

from __future__ import annotations

from typing import Any, cast

from nicegui.testing import User

from nanogen.bootstrap import Services
from nanogen.models import Prompt
from tests.ui.helpers import eventually, sign_in


def app_services() -> Services:
    """The services app.py built for this test (app.state holds them)."""
    from nicegui import app  # create_app keeps them there; pages get only the Studio facade
    return cast(Services, app.state.services)


async def user_id(services: Services, email: str) -> int:
    """The id of the user with this email, signing them in (creating them) as local sign-in would."""
    user = await services.users.sign_in(subject=f'local:{email}', email=email, name=email.split('@')[0].title())
    assert user.id is not None
    return user.id


async def wait_finished(services: Services, uid: int, prompt_id: int) -> str:
    async def ended() -> str | None:
        prompt = await services.library.get_prompt(uid, prompt_id)
        return prompt.status if prompt.status in ('COMPLETED', 'FAILED', 'CANCELLED') else None
    return await eventually(ended, message=f'prompt {prompt_id} never finished')


def text_of(user: User, marker: str) -> str:
    found = list(user.find(marker=marker).elements)
    assert len(found) == 1, f'{len(found)} elements marked {marker!r}'
    return str(getattr(found[0], 'text', ''))


def job_cards(user: User) -> list:
    """The generator's job cards on the page (marked job-<id>)."""
    assert user.client is not None
    return [e for e in user.client.elements.values() if any(m.startswith('job-') for m in e._markers)]


async def wait_for_cards(user: User, count: int = 1) -> None:
    """Wait until the generator shows `count` job cards: a submit's feedback is its card, not a toast."""
    await eventually(lambda: len(job_cards(user)) >= count,
                     message=f'fewer than {count} job card(s) appeared')


async def submit_on_generator(user: User, text: str, **demo: Any) -> tuple[Services, int, Prompt]:
    """Ada signs in on /generator with the demo provider set so (`fail_rate=1.0`, `latency_s=30`, ...), submits
    `text` and waits for its card: (services, her id, the prompt)."""
    await sign_in(user, then='/generator')
    services = app_services()
    for name, value in demo.items():
        setattr(services.demo.config, name, value)
    uid = await user_id(services, 'ada@example.com')
    user.find(marker='prompt').type(text)
    user.find(marker='generate').click()
    await wait_for_cards(user)
    (prompt,) = await services.library.recent_prompts(uid)
    return services, uid, prompt
