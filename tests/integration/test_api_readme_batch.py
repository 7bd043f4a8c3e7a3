"""The README's "Batches" pandas example runs as written against the app served over real HTTP."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from nicegui import app
from nicegui.testing import User

from tests.integration.api_support import api_user
from tests.support.inloop import serve_in_loop

README = (Path(__file__).resolve().parents[2] / 'README.md').read_text()


def readme_example() -> str:
    section = README.split('\n## Batches\n', 1)[1].split('\n## ', 1)[0]
    blocks = re.findall(r'```python\n(.*?)```', section, flags=re.S)
    assert len(blocks) == 1, 'the section should hold exactly one python example'
    return blocks[0]


async def test_the_readme_batch_example_turns_a_dataframe_into_a_results_dataframe(
        user: User, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    api = await api_user(user)
    code = compile(readme_example(), 'README.md', 'exec')
    namespace: dict[str, object] = {'__name__': 'readme_batch_example'}
    async with serve_in_loop(app) as base_url:
        monkeypatch.setenv('NANOGEN_API_URL', base_url)
        monkeypatch.setenv('NANOGEN_API_TOKEN', api.token)
        await asyncio.to_thread(exec, code, namespace)
    results = namespace['results']
    wanted = namespace['wanted']
    assert list(results['prompt']) == list(wanted['prompt'])  # type: ignore[index]
    assert list(results['row']) == [1, 2, 3, 4, 5, 6]  # type: ignore[index]
    assert set(results['status']) == {'COMPLETED'}  # type: ignore[index]
    files = [name for cell in results['files'] for name in cell.split()]  # type: ignore[index]
    assert files == [f'row-{n:04d}-1.png' for n in range(1, 7)]
    out = Path.cwd() / 'product-shots'
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, 'metadata.csv'])
    assert (out / files[0]).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    listed = (await api.get('/api/v1/batches')).json()['data']
    assert [b['name'] for b in listed['items']] == ['Product shots']
