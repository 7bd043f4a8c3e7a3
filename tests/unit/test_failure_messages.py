"""Failure and cancel messages say whose fault it is and what it cost (issue 12 finding 13)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nanogen.models import Prompt
from nanogen.provider.client import task_failed_message
from pages._format import cancelled_notice


@pytest.mark.parametrize('code', [455, 500, 501, 503])
def test_provider_side_codes_do_not_blame_the_prompt(code: int) -> None:
    """Issue 12 finding 13: 5xx and 455 failures said "Rephrase the prompt"."""
    message = task_failed_message(code, 'Internal error.')
    assert 'Rephrase' not in message
    assert "provider's side, not your prompt" in message
    assert 'Internal error' in message and 'Retry' in message


@pytest.mark.parametrize('code', [400, 422])
def test_prompt_side_codes_ask_for_a_new_prompt(code: int) -> None:
    assert 'Rephrase the prompt' in task_failed_message(code, 'content policy')


def test_cancel_notice_says_when_it_is_still_billed() -> None:
    """Issue 12 finding 13: a cancel after submission records the estimate as cost; the notice must say so."""
    billed = Prompt(user_id=1, prompt='x', cost=Decimal('0.0125'), estimated_cost=Decimal('0.0125'))
    assert 'still billed ($0.0125)' in cancelled_notice(billed)
    free = Prompt(user_id=1, prompt='x', cost=Decimal(0), estimated_cost=Decimal('0.0125'))
    assert 'nothing was billed' in cancelled_notice(free)
