"""The README's "Add a page" example really works: loaded as a page module, it serves that user's numbers."""

from __future__ import annotations

import importlib.util
import re
import sys
from decimal import Decimal
from pathlib import Path

from nicegui import ui
from nicegui.testing import User

from nanogen.models import Prompt
from tests.ui.helpers import should_see, sign_in
from tests.ui.studio import app_services, user_id

README = Path(__file__).resolve().parents[2] / 'README.md'


def example_code() -> str:
    section = README.read_text().split('## Add a page', 1)[1].split('\n## ', 1)[0]
    match = re.search(r'```python\n(.*?)```', section, flags=re.S)
    assert match, 'the "Add a page" section has no python example'
    return match.group(1)


def load_as_page_module(code: str, folder: Path) -> None:
    """Import the example the way pages/ would, but from a temporary file, so no other test ever sees it."""
    path = folder / 'readme_example_page.py'
    path.write_text(code)
    spec = importlib.util.spec_from_file_location('readme_example_page', path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the user fixture drops page modules from sys.modules after the test
    spec.loader.exec_module(module)


def test_the_example_is_short() -> None:
    lines = [line for line in example_code().splitlines() if line.strip()]
    assert len(lines) <= 12


async def test_the_readme_page_example_serves_the_signed_in_users_data(user: User, tmp_path: Path) -> None:
    await sign_in(user)
    services = app_services()
    ada, bob = await user_id(services, 'ada@example.com'), await user_id(services, 'bob@example.com')

    def seed(s) -> None:
        s.add(Prompt(user_id=ada, prompt='p', status='COMPLETED', image_size=768, num_images=3, cost=Decimal('0.03')))
        s.add(Prompt(user_id=bob, prompt='p', status='COMPLETED', image_size=1536, num_images=1, cost=Decimal('1')))
        s.commit()
    await services.db.write(seed)
    load_as_page_module(example_code(), tmp_path)
    await user.open('/my-sizes')
    await should_see(user, 'My sizes')
    (table,) = user.find(kind=ui.table).elements
    assert table.rows == [{'size': '768px', 'images': 3, 'spend': 0.03}]  # never bob's 1536px


async def test_the_example_page_is_guarded(user: User, tmp_path: Path) -> None:
    load_as_page_module(example_code(), tmp_path)
    await user.open('/my-sizes')
    await should_see(user, 'Sign in to nanogen')
