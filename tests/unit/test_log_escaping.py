"""Log lines cannot be forged: control characters in a message are escaped by both formatters."""

from __future__ import annotations

import json
import logging

import pytest

from nanogen.logs import JsonFormatter, TextFormatter

HOSTILE = 'access_denied\n2026-01-01 00:00:00 INFO nanogen.accounts.guard: user 1 signed in as admin\r\x1b[2J\x85\u2028end'


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord('nanogen.http.oidc', logging.WARNING, __file__, 1, message, args, None)


@pytest.mark.parametrize('formatter', [TextFormatter(), JsonFormatter()], ids=['text', 'json'])
def test_a_hostile_oidc_error_stays_on_one_line_without_raw_controls(formatter: logging.Formatter) -> None:
    """Issue 11 finding 13: an OIDC `error` parameter with newlines/ANSI escapes cannot forge a second log line."""
    line = formatter.format(record('sign-in failed: %s', HOSTILE))
    assert '\n' not in line and '\r' not in line and '\x1b' not in line and '\x85' not in line
    assert '\u2028' not in line
    text = json.loads(line)['message'] if isinstance(formatter, JsonFormatter) else line
    assert '\\n2026-01-01 00:00:00 INFO' in text and '\\x1b[2J' in text and '\\x85' in text, text


def test_a_traceback_keeps_its_own_line_breaks() -> None:
    """Issue 11 finding 13: only the message is escaped; exception text is ours and stays readable."""
    try:
        raise ValueError('boom')
    except ValueError:
        import sys
        rec = logging.LogRecord('nanogen', logging.ERROR, __file__, 1, 'failed\nforged', None, sys.exc_info())
    line = TextFormatter().format(rec)
    assert line.splitlines()[0].endswith('failed\\nforged') and 'Traceback' in line.splitlines()[1]
