"""Who may sign in, where they land, and which settings refuse to start: pure rules, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from nanogen.accounts.guard import is_public, safe_redirect
from nanogen.accounts.signin_messages import UNVERIFIED_MESSAGE
from nanogen.accounts.tokens import TokenService
from nanogen.config import Settings
from nanogen.errors import AuthError, ConfigError, InvalidInput
from nanogen.http.oidc import check_claims

STRONG_KEY = 'vK3p9Qz_Lm2xR7tYw4Nb8Hc6Jd1Fg5Se0Ua-Oi'  # random-looking: production accepts it

GOOD = {'sub': 's-1', 'email': 'Ada@Acme.com', 'email_verified': True, 'name': 'Ada', 'picture': 'https://x/a.png'}


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_good_claims_give_the_profile_with_a_lowercased_email() -> None:
    profile = check_claims(GOOD, settings(NANOGEN_ALLOWED_DOMAINS='acme.com'))
    assert (profile.subject, profile.email, profile.name, profile.avatar_url) == (
        's-1', 'ada@acme.com', 'Ada', 'https://x/a.png')


@pytest.mark.parametrize('verified', [False, None, 'false', 0])
def test_an_unverified_email_is_refused(verified: object) -> None:
    with pytest.raises(AuthError) as info:
        check_claims({**GOOD, 'email_verified': verified}, settings())
    assert info.value.user_message == UNVERIFIED_MESSAGE


def test_the_string_true_counts_as_verified() -> None:
    assert check_claims({**GOOD, 'email_verified': 'true'}, settings()).email == 'ada@acme.com'


@pytest.mark.parametrize('claims', [{**GOOD, 'email': 'eve@gmail.com'},
                                    {**GOOD, 'hd': 'other.com'},
                                    {**GOOD, 'email': 'eve@acme.com.evil.example'}])
def test_other_domains_and_hosted_domains_are_refused(claims: dict[str, object]) -> None:
    with pytest.raises(AuthError, match=r'Only accounts from acme\.com can sign in here'):
        check_claims(claims, settings(NANOGEN_ALLOWED_DOMAINS='acme.com'))


def test_missing_email_or_subject_is_refused() -> None:
    for claims in ({**GOOD, 'email': ''}, {**GOOD, 'sub': ''}):
        with pytest.raises(AuthError, match='did not share an email address'):
            check_claims(claims, settings())


@pytest.mark.parametrize('target', ['https://evil.example', '//evil.example', '/\\evil.example', 'javascript:x',
                                    'evil.example', '', None, '/\x00x', 'http:/evil.example'])
def test_redirects_off_site_fall_back_to_the_dashboard(target: str | None) -> None:
    assert safe_redirect(target) == '/dashboard'


@pytest.mark.parametrize('target', ['/generator', '/history?q=fox&page=2', '/images/3'])
def test_local_redirects_are_kept(target: str) -> None:
    assert safe_redirect(target) == target


def test_only_sign_in_landing_health_and_shares_are_public() -> None:
    for path in ('/', '/login', '/healthz', '/readyz', '/auth/oidc/callback', '/auth/local', '/s/abc'):
        assert is_public(path), path
    for path in ('/dashboard', '/generator', '/profile', '/files/1/image', '/api/v1/prompts', '/admin', '/auth'):
        assert not is_public(path), path


def test_production_refuses_local_sign_in(tmp_path: Path) -> None:
    prod = dict(NANOGEN_ENV='production', NANOGEN_DATA_DIR=str(tmp_path), NANOGEN_SECRET_KEY=STRONG_KEY,
                NANOBANANA_API_KEY='key-123')
    with pytest.raises(ConfigError, match='Local sign-in is refused when NANOGEN_ENV=production'):
        settings(**prod).check_startup()
    with pytest.raises(ConfigError, match='Local sign-in is refused'):
        settings(**prod, GOOGLE_CLIENT_ID='id-only').check_startup()  # half a client is no client
    settings(**prod, GOOGLE_CLIENT_ID='id', GOOGLE_CLIENT_SECRET='secret').check_startup()  # the control


def test_production_refuses_the_app_from_app_py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The composition root refuses too, before anything is served."""
    from nanogen.bootstrap import build_services
    monkeypatch.setenv('NANOGEN_ENV', 'production')
    monkeypatch.setenv('NANOGEN_SECRET_KEY', STRONG_KEY)
    monkeypatch.setenv('NANOBANANA_API_KEY', 'key-123')
    with pytest.raises(ConfigError, match='Local sign-in is refused'):
        build_services(Settings())


@pytest.mark.parametrize(('name', 'days', 'message'), [
    ('', None, 'Give the token a name'),
    ('   ', 7, 'Give the token a name'),
    ('x' * 101, None, 'The name is too long'),
    ('ci', 0, 'Expiry must be between 1 and 3650 days'),
    ('ci', 3651, 'Expiry must be between 1 and 3650 days'),
    ('ci', -5, 'Expiry must be between 1 and 3650 days'),
])
def test_bad_token_requests_get_a_clear_message(name: str, days: int | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        TokenService.validate(name, days)


def test_good_token_requests_are_trimmed() -> None:
    assert TokenService.validate('  laptop  ', 30) == ('laptop', 30)
    assert TokenService.validate('ci', None) == ('ci', None)
