"""The README's "Use it from Python" example runs as written against the app served over real HTTP."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from nicegui import app
from nicegui.testing import User

from tests.integration.api_support import api_user, prompt_count
from tests.support.inloop import serve_in_loop

README = (Path(__file__).resolve().parents[2] / 'README.md').read_text()


def readme_example() -> str:
    section = README.split('## Use it from Python', 1)[1].split('\n## ', 1)[0]
    blocks = re.findall(r'```python\n(.*?)```', section, flags=re.S)
    assert len(blocks) == 1, 'the section should hold exactly one python example'
    return blocks[0]


async def test_the_readme_python_example_generates_pages_and_downloads(user: User, isolated_env: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    api = await api_user(user)
    code = compile(readme_example(), 'README.md', 'exec')
    async with serve_in_loop(app) as base_url:
        monkeypatch.setenv('NANOGEN_API_URL', base_url)
        monkeypatch.setenv('NANOGEN_API_TOKEN', api.token)
        for _ in range(2):  # a re-run, as after a crash: the Idempotency-Key keeps it to one generation
            await asyncio.to_thread(exec, code, {'__name__': 'readme_example'})
    image = Path.cwd() / 'fox.png'  # the example writes to the working directory (the test's tmp dir)
    assert image.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert await prompt_count() == 1
    items = (await api.get('/api/v1/images')).json()['data']['items']
    assert [i['prompt'] for i in items] == ['a red fox in fresh snow'] and items[0]['width'] == 1024
    boards = (await api.get('/api/v1/boards')).json()['data']  # "put my results on a board", once for two runs
    assert [(b['name'], b['image_count']) for b in boards] == [('Foxes', 1)]
