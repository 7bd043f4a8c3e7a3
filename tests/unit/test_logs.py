"""Log scrubbing, one pattern at a time: each kind of secret is cut out by its own rule, so losing a rule fails."""

from __future__ import annotations

import logging

import pytest

from nanogen.logs import add_secrets, install_record_factory

KNOWN_SECRET = 'Prov1der-K3y-0f-the-day'  # as setup_logging registers the provider key


def logged(message: str, *args: object) -> str:
    """What a handler receives for this log call: the record factory has already scrubbed it."""
    install_record_factory()
    add_secrets(KNOWN_SECRET)
    logger = logging.getLogger('nanogen.test_scrub')
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        logger.warning(message, *args)
    finally:
        logger.removeHandler(handler)
    (record,) = records
    return record.getMessage()


@pytest.mark.parametrize(('message', 'args', 'expected'), [
    # bearer: an Authorization value quoted in an error
    ('provider refused %s', ('Bearer abc.DEF-123_xyz~9',), 'provider refused Bearer [redacted]'),
    # our personal API tokens, by their prefix, wherever they appear
    ('request with %s from 10.0.0.1', ('ngk_AbCdEf0123456789xyz',), 'request with [redacted] from 10.0.0.1'),
    # webhook signing secrets, by their prefix, wherever they appear
    ('endpoint 4 signs with %s now', ('whsec_Q1w2E3r4T5y6U7i8O9p0',), 'endpoint 4 signs with [redacted] now'),
    # key=value and key: value
    ('retrying with %s', ('api_key=abcd1234efgh',), 'retrying with api_key=[redacted]'),
    ('login failed: %s', ('password: "hunter2hunter2"',), 'login failed: password: "[redacted]"'),
    ('fetching %s', ('https://r2.example/x.png?X-Amz-Signature=deadbeef99&a=1',),
     'fetching https://r2.example/x.png?X-Amz-Signature=[redacted]&a=1'),
    # cookie: a header value whose own name gives nothing away
    ('headers were %s', ('Cookie: nanogen_id=Zx9yW8vU7t',), 'headers were Cookie: [redacted]'),
    # known secrets: the configured keys, whatever text surrounds them
    ('upstream said %s is wrong', (KNOWN_SECRET,), 'upstream said [redacted] is wrong'),
], ids=['bearer', 'api-token', 'webhook-secret', 'key=value', 'key: value', 'url-signature', 'cookie', 'known-secret'])
def test_each_scrub_pattern_cuts_its_secret_and_keeps_the_rest(message: str, args: tuple, expected: str) -> None:
    """Issue 13 item 4: each scrub rule on its own (bearer, API token, key=value, cookie, known secrets); every
    case here is caught by exactly one rule."""
    assert logged(message, *args) == expected
