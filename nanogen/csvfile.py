"""CSV the project hands out (history export, admin usage): one writer, with spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# A spreadsheet runs a cell starting with one of these as a formula (tab and CR too: some apps strip them first).
FORMULA_START = ('=', '+', '-', '@', '\t', '\r')


def safe_cell(value: object) -> object:
    """Text that would start a formula gets a leading apostrophe, so it stays text; None is an empty cell."""
    if value is None:
        return ''
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_lines(rows: Iterable[Iterable[object]]) -> str:
    """The rows as CSV text, every cell through `safe_cell`; call it per chunk to stream a long export."""
    buf = io.StringIO()
    csv.writer(buf).writerows([safe_cell(v) for v in row] for row in rows)
    return buf.getvalue()
