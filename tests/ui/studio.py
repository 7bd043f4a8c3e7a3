"""Helpers for the studio pages' `user`-fixture tests: reach the running app's services, read marked labels, read
and press a job card (one custom element drawn by the browser from its `job` prop)."""

from __future__ import annotations

import json
from typing import Any, cast

from nicegui.element import Element
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


def job_card(user: User, prompt_id: int | None) -> Element | None:
    """The generator's card of this prompt (marked job-<id>), or None when the tab shows none."""
    found = [e for e in job_cards(user) if f'job-{prompt_id}' in e._markers]
    assert len(found) <= 1, f'{len(found)} cards for prompt {prompt_id}'
    return found[0] if found else None


def job_of(user: User, prompt_id: int | None) -> dict[str, Any]:
    """What the card of this prompt shows: its `job` prop ({} when there is no card). The browser draws it as is
    (pages/_job_card.js): `label` is the badge, `action` the button beside it ('cancel', 'retry' or ''), `cost`,
    `message` the live line, `error`/`hint`/`alternatives` a failure, `finished`, `images` the result ids (each
    shown with the prompt as its alt text, and Download / Open in gallery / Edit), `long` the More/Less toggle."""
    card = job_card(user, prompt_id)
    return dict(card.props['job']) if card is not None else {}


def result_images(user: User) -> list[tuple[int, str]]:
    """Every result the tab's job cards show, as (image id, its alt text)."""
    return [(image_id, card.props['job']['prompt'])
            for card in job_cards(user) for image_id in card.props['job'].get('images', ())]


def press(user: User, prompt_id: int | None, event: str, *args: Any) -> None:
    """Press a card's button as the browser does: the component emits `event` ('cancel', 'retry', 'try' with a model
    id, 'edit' with an image id) and nicegui.js sends each argument JSON-encoded to the client's event handler.
    Like a click on a button the card does not show, a crafted event reaches the server too: it must refuse it."""
    card = job_card(user, prompt_id)
    assert card is not None, f'no card for prompt {prompt_id}'
    assert user.client is not None
    (listener_id,) = [i for i, listener in card._event_listeners.items() if listener.type == event]
    user.client.handle_event({'id': card.id, 'listener_id': listener_id, 'args': [json.dumps(a) for a in args]})


def emit(user: User, marker: str, event: str, *args: Any) -> None:
    """What a custom element's button does in the browser (e.g. the dashboard's in-flight row emits 'cancel'): the
    component emits `event`, and nicegui.js sends each argument JSON-encoded to the client's event handler."""
    (element,) = user.find(marker=marker).elements
    assert user.client is not None
    (listener_id,) = [i for i, listener in element._event_listeners.items() if listener.type == event]
    user.client.handle_event({'id': element.id, 'listener_id': listener_id, 'args': [json.dumps(a) for a in args]})


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
