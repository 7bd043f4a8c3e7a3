"""The one CSV writer: every cell that a spreadsheet would run as a formula stays text."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from nanogen.csvfile import csv_lines, safe_cell


@pytest.mark.parametrize('start', ['=', '+', '-', '@', '\t', '\r'])
def test_each_formula_character_at_the_start_is_neutralised(start: str) -> None:
    """Issue 13 finding (CSV escapers disagreed on tab/CR): each formula character gets a leading apostrophe."""
    text = f'{start}HYPERLINK("http://evil.example","x")'
    assert safe_cell(text) == "'" + text
    [row] = list(csv.reader(io.StringIO(csv_lines([['a', text]]), newline='')))
    assert row == ['a', "'" + text]


@pytest.mark.parametrize('value', ['a = b', 'x+1', 'mail@example.com', 'line\tbreak', ' =padded', ''])
def test_text_that_starts_harmlessly_is_left_alone(value: str) -> None:
    assert safe_cell(value) == value


def test_numbers_stay_numbers_and_none_is_empty() -> None:
    assert csv_lines([[1, Decimal('-0.5'), None, True]]) == '1,-0.5,,True\r\n'
