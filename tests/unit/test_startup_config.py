"""Production start-up: every configuration problem at once, a guessable secret key refused, http warned about."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanogen.config import Settings, secret_key_problem
from nanogen.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
STRONG = 'vK3p9Qz_Lm2xR7tYw4Nb8Hc6Jd1Fg5Se0Ua-Oi'
PROD = dict(NANOGEN_ENV='production', GOOGLE_CLIENT_ID='id', GOOGLE_CLIENT_SECRET='secret',
            NANOBANANA_API_KEY='key-123', NANOGEN_PUBLIC_URL='https://studio.example.com')


@pytest.mark.parametrize('key', ['a' * 32, 'k' * 64, 'abcdefghijk' * 3, 'password' * 4, 'ab' * 24, 'short-but-random'])
def test_production_refuses_a_guessable_secret_key(tmp_path: Path, key: str) -> None:
    """Issue 11 finding 16: 32 x 'a' (or any repeated pattern) is no secret, whatever its length."""
    with pytest.raises(ConfigError, match='NANOGEN_SECRET_KEY'):
        Settings(**PROD, NANOGEN_DATA_DIR=str(tmp_path), NANOGEN_SECRET_KEY=key).check_startup()


def test_production_accepts_generated_keys(tmp_path: Path) -> None:
    """Issue 11 finding 16: the control: keys made the way the message advises all pass."""
    import secrets
    for key in [STRONG, secrets.token_urlsafe(48), secrets.token_urlsafe(32), secrets.token_hex(32)]:
        assert secret_key_problem(key) is None, key
    Settings(**PROD, NANOGEN_DATA_DIR=str(tmp_path), NANOGEN_SECRET_KEY=STRONG).check_startup()


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Issue 11 finding 16: no OIDC, no provider key and a weak secret: three problems in one error."""
    settings = Settings(NANOGEN_ENV='production', NANOGEN_DATA_DIR=str(tmp_path), NANOGEN_SECRET_KEY='a' * 32)
    with pytest.raises(ConfigError) as info:
        settings.check_startup()
    problems = info.value.problems
    assert len(problems) == 3, problems
    assert any('GOOGLE_CLIENT_ID' in p for p in problems) and any('NANOBANANA_API_KEY' in p for p in problems)
    assert any('NANOGEN_SECRET_KEY' in p for p in problems)


def test_http_public_url_in_production_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11 finding 16: a production public URL that is not https logs a WARNING (https does not)."""
    values = {**PROD, 'NANOGEN_DATA_DIR': str(tmp_path), 'NANOGEN_SECRET_KEY': STRONG}
    with caplog.at_level(logging.WARNING, logger='nanogen.config'):
        Settings(**values).check_startup()
        assert not [r for r in caplog.records if 'NANOGEN_PUBLIC_URL' in r.getMessage()]
        Settings(**{**values, 'NANOGEN_PUBLIC_URL': 'http://studio.example.com'}).check_startup()
    warned = [r for r in caplog.records if 'NANOGEN_PUBLIC_URL is not https' in r.getMessage()]
    assert warned and warned[0].levelno == logging.WARNING


def test_app_py_prints_a_short_list_and_exits_2(tmp_path: Path) -> None:
    """Issue 11 finding 16: the real entry point: no traceback, every problem on its own line, exit code 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('NANOGEN_', 'NANOBANANA_', 'GOOGLE_', 'R2_'))}
    env.update(NANOGEN_ENV='production', NANOGEN_SECRET_KEY='a' * 32, NANOGEN_DATA_DIR=str(tmp_path / 'data'))
    result = subprocess.run([sys.executable, str(ROOT / 'app.py')], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith('  - ')]
    assert len(lines) == 3, result.stderr
    assert 'a' * 32 not in result.stderr  # the key itself is never echoed
