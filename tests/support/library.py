"""Set-up the library's integration tests share: user rows written straight to the database, finished images made
through the real generation service and the contract fake (the fixtures are in tests/integration/conftest.py)."""

from __future__ import annotations

from nanogen.bootstrap import Services
from nanogen.db import Database
from nanogen.generation.requests import validate_request
from nanogen.models import User


def add_user_row(db: Database, email: str) -> int:
    """A user row and nothing else (no session, no sign-in): for tests of queries and figures."""
    with db.session() as s:
        user = User(subject=f'local:{email}', email=email, name=email)
        s.add(user)
        s.commit()
        assert user.id is not None
        return user.id


async def make_images(services: Services, user_id: int, prompt: str, n: int = 1) -> list[int]:
    """A finished generation of `n` images through the real service; the images' ids in position order."""
    from tests.integration.test_generation import wait_status  # the engine's own wait, kept beside its tests
    created = await services.generation.create(user_id, validate_request(prompt=prompt, size=512, num_images=n))
    done = await wait_status(services, created.id, {'COMPLETED', 'FAILED'})
    assert done.status == 'COMPLETED', done.error_message
    return [i.id for i in await services.library.images_of_prompt(user_id, created.id)]


async def promote_admin(services: Services, user_id: int) -> None:
    """Make the user an app admin (as NANOGEN_ADMIN_EMAILS or /admin would)."""
    def work(s) -> None:  # type: ignore[no-untyped-def]
        row = s.get(User, user_id)
        row.is_admin = True
        s.add(row)
        s.commit()
    await services.db.write(work)
