"""One money format everywhere (issue 12 finding 14: $0.22 and $0.205 on the admin page, $0.2050 elsewhere)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from nanogen.generation.budget import usd
from pages._format import money

PAGES = Path(__file__).resolve().parents[2] / 'pages'


@pytest.mark.parametrize(('amount', 'shown'), [
    (0, '$0.00'), (Decimal('0.0125'), '$0.0125'), (Decimal('0.205'), '$0.2050'), (Decimal('0.22'), '$0.2200'),
    (Decimal('0.045'), '$0.0450'), (1, '$1.00'), (Decimal('12.345'), '$12.35'), (Decimal('1234.5'), '$1,234.50'),
    (0.0125, '$0.0125'), (Decimal('-0.5'), '-$0.5000'),
])
def test_money_format(amount: object, shown: str) -> None:
    """Issue 12 finding 14: four decimals under $1 (prices are sub-cent), cents from $1 up."""
    assert money(amount) == shown  # type: ignore[arg-type]
    assert usd(amount) == shown  # type: ignore[arg-type]  # the core's messages say the same


def test_no_page_formats_money_itself() -> None:
    """Issue 12 finding 14: every page goes through `money`; none writes a '$' f-string or a fixed-decimals format."""
    offenders = []
    for path in sorted(PAGES.glob('*.py')):
        if path.name == '_format.py':
            continue
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"\$\{|:,?\.\d+f\}|\busd\(", line):
                offenders.append(f'{path.name}:{n}: {line.strip()}')
    assert offenders == []
