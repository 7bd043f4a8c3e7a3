"""Batch input: a prompt list, a CSV or XLSX sheet, or a template with variables, read into raw rows (not validated).

Every cell stays text (or None when empty); `rows.py` validates each row with the single-prompt rules.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from nanogen import pools
from nanogen.errors import InvalidInput

COLUMNS = ('prompt', 'model', 'size', 'ratio', 'images', 'watermark', 'reference')
# Header spellings a sheet may use for each column (lower-cased, spaces and dashes as underscores).
ALIASES = {'prompt': 'prompt', 'text': 'prompt', 'model': 'model', 'size': 'size', 'resolution': 'size',
           'size_resolution': 'size', 'size/resolution': 'size', 'ratio': 'ratio', 'aspect_ratio': 'ratio',
           'images': 'images', 'num_images': 'images', 'watermark': 'watermark', 'reference': 'reference',
           'reference_image': 'reference'}
VARIABLE = re.compile(r'\{([A-Za-z_][A-Za-z0-9_]{0,39})\}')
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class RawRow:
    """One row as written: the prompt and the optional per-row settings, plus the template's variables."""

    number: int  # 1-based, as a person counts rows (a sheet's header is not a row)
    prompt: str
    model: str | None = None
    size: str | None = None  # a pixel size (Nano Banana) or a resolution (1K/2K/4K)
    ratio: str | None = None
    images: str | None = None
    watermark: str | None = None
    reference: str | None = None  # a gallery image id or an uploaded file's name
    variables: dict[str, str] = field(default_factory=dict)


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet's 1024.0
    text = str(value).strip()
    return text or None


def _too_many(count: int, max_rows: int) -> None:
    if count > max_rows:
        raise InvalidInput(f'A batch holds at most {max_rows} rows; this one has {count}.', field='rows')
    if count == 0:
        raise InvalidInput('The batch is empty: give at least one prompt.', field='rows')


def from_lines(text: str, *, max_rows: int) -> list[RawRow]:
    """One prompt a line; blank lines are skipped."""
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    _too_many(len(lines), max_rows)
    return [RawRow(number=n, prompt=line) for n, line in enumerate(lines, 1)]


def from_records(records: list[dict[str, Any]], *, max_rows: int) -> list[RawRow]:
    """Rows given as objects (the API's JSON, a DataFrame's records, a sheet's rows) keyed by column name."""
    _too_many(len(records), max_rows)
    rows = []
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise InvalidInput(f'Row {n} must be an object with a prompt.', field='rows')
        cells: dict[str, str | None] = {}
        for key, value in record.items():
            name = ALIASES.get(str(key).strip().lower().replace(' ', '_').replace('-', '_'))
            if name is not None and cells.get(name) is None:
                cells[name] = _cell(value)
        rows.append(RawRow(number=n, prompt=cells.pop('prompt', None) or '', **cells))  # type: ignore[arg-type]
    return rows


def _header_records(table: list[list[Any]], *, max_rows: int) -> list[RawRow]:
    table = [row for row in table if any(_cell(c) is not None for c in row)]
    if not table:
        raise InvalidInput('The sheet is empty: give a header row (prompt, model, size, ...) and one row a prompt.',
                           field='file')
    header = [str(_cell(c) or '').lower().replace(' ', '_').replace('-', '_') for c in table[0]]
    if 'prompt' not in header and 'text' not in header:
        raise InvalidInput('The sheet needs a "prompt" column in its first row.', field='file')
    return from_records([dict(zip(header, row, strict=False)) for row in table[1:]], max_rows=max_rows)


def from_csv(data: bytes, *, max_rows: int) -> list[RawRow]:
    if len(data) > MAX_BYTES:
        raise InvalidInput('The file is too large: at most 5 MB.', field='file')
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError:
        raise InvalidInput('The CSV file must be UTF-8 text.', field='file') from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=',;\t')
    except csv.Error:
        dialect = csv.excel
    try:
        table = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise InvalidInput(f'The CSV file cannot be read: {exc}.', field='file') from None
    return _header_records(table, max_rows=max_rows)


def is_xlsx(name: str, data: bytes) -> bool:
    return name.lower().endswith('.xlsx') or data[:2] == b'PK'  # a zip: what every .xlsx is


def from_sheet(name: str, data: bytes, *, max_rows: int) -> list[RawRow]:
    return (from_xlsx if is_xlsx(name, data) else from_csv)(data, max_rows=max_rows)


async def parse_sheet(name: str, data: bytes, *, max_rows: int) -> list[RawRow]:
    """An uploaded CSV/XLSX, read in the image worker processes: openpyxl takes a second or more on a 5 MB sheet
    and, like Pillow, holds the GIL, so a thread would still stall every tab (issue 18). Errors come back as
    themselves (InvalidInput with its message)."""
    return await pools.in_images(from_sheet, name, data, max_rows=max_rows)


def from_xlsx(data: bytes, *, max_rows: int) -> list[RawRow]:
    """The first sheet of an Excel workbook, read-only (formulas are read as their saved values)."""
    import openpyxl  # only batches read spreadsheets
    if len(data) > MAX_BYTES:
        raise InvalidInput('The file is too large: at most 5 MB.', field='file')
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput('The file is not an Excel workbook (.xlsx).', field='file') from None
    try:
        sheet = book.worksheets[0]
        table = [list(row) for row in itertools.islice(sheet.iter_rows(values_only=True), max_rows + 2)]
    finally:
        book.close()
    return _header_records(table, max_rows=max_rows)


def template_variables(template: str) -> list[str]:
    """The variables a template names, in order of first appearance."""
    return list(dict.fromkeys(VARIABLE.findall(template or '')))


def from_template(template: str, values: dict[str, list[str]], *, mode: str = 'cartesian', max_rows: int,
                  settings_row: dict[str, Any] | None = None) -> list[RawRow]:
    """`a {product} on a {surface}` with a value list per variable: every combination (cartesian) or the n-th
    values together (zip; the lists must be as long as each other). `settings_row` applies to every row."""
    names = template_variables(template)
    if not names:
        raise InvalidInput('The template names no variable: write them in braces, e.g. "a {product} on a {surface}".',
                           field='template')
    lists: list[list[str]] = []
    for name in names:
        given = values.get(name)
        if not isinstance(given, list) or not [v for v in given if isinstance(v, str) and v.strip()]:
            raise InvalidInput(f'Give at least one value for {{{name}}}.', field='variables')
        lists.append([v.strip() for v in given if isinstance(v, str) and v.strip()])
    if mode == 'zip':
        if len({len(v) for v in lists}) != 1:
            raise InvalidInput('Zipped variables need value lists of the same length.', field='variables')
        combos: list[tuple[str, ...]] = list(zip(*lists, strict=True))
    elif mode == 'cartesian':
        count = 1
        for v in lists:
            count *= len(v)
        _too_many(count, max_rows)
        combos = list(itertools.product(*lists))
    else:
        raise InvalidInput('Choose how to combine the variables: cartesian or zip.', field='mode')
    _too_many(len(combos), max_rows)
    extra = {k: _cell(v) for k, v in (settings_row or {}).items() if k in COLUMNS and k != 'prompt'}
    rows = []
    for n, combo in enumerate(combos, 1):
        chosen = dict(zip(names, combo, strict=True))
        text = VARIABLE.sub(functools.partial(_fill, chosen), template)
        rows.append(RawRow(number=n, prompt=text, variables=chosen, **extra))
    return rows


def _fill(values: dict[str, str], match: re.Match[str]) -> str:
    return values.get(match.group(1), match.group(0))
