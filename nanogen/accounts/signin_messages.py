"""What sign-in may tell a person, and the only texts /login?error= will show (so a crafted link cannot put its
own words on our page). The OIDC routes raise these; the login page shows them through `login_error_text`."""

from __future__ import annotations

import re

from nanogen.accounts.guard import LOCAL_SIGN_IN_MESSAGES

STATE_MESSAGE = ('Your sign-in could not be checked: it expired or was started in another tab or browser. '
                 'Please sign in again.')
TOKEN_MESSAGE = 'The answer from the sign-in provider could not be verified. Please sign in again.'
DENIED_MESSAGE = 'Sign-in was cancelled or refused by the sign-in provider.'
UNREACHABLE_MESSAGE = 'The sign-in provider could not be reached. Try again in a minute.'
UNVERIFIED_MESSAGE = 'Your email address is not verified with the sign-in provider, so it cannot be used here.'
NO_EMAIL_MESSAGE = 'The sign-in provider did not share an email address. Allow access to your email and sign in again.'
_DOMAIN_MESSAGE = re.compile(r'Only accounts from [a-z0-9.,\- ]{1,300} can sign in here\. '
                             r'Sign in with your work account\.')
GENERIC_MESSAGE = 'Sign-in did not complete. Please try again.'


def domain_message(allowed: list[str]) -> str:
    """The refusal for an account outside the allowed domains (login_error_text recognises its shape)."""
    return f'Only accounts from {", ".join(allowed)} can sign in here. Sign in with your work account.'


def login_error_text(raw: str) -> str:
    """The message the login page may show for `?error=`: only one we wrote, so nobody can put words on our page
    with a crafted link; anything else becomes a generic line."""
    known = {STATE_MESSAGE, TOKEN_MESSAGE, DENIED_MESSAGE, UNREACHABLE_MESSAGE, UNVERIFIED_MESSAGE, NO_EMAIL_MESSAGE,
             *LOCAL_SIGN_IN_MESSAGES}
    if raw in known or _DOMAIN_MESSAGE.fullmatch(raw):
        return raw
    return GENERIC_MESSAGE
