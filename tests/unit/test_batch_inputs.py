"""Batch input parsing and per-row validation (no database): lines, CSV, XLSX, templates, row errors."""

from __future__ import annotations

import io
from decimal import Decimal

import openpyxl
import pytest

from nanogen.batches.feeder import Promoted, round_robin
from nanogen.batches.inputs import from_csv, from_lines, from_records, from_template, from_xlsx
from nanogen.batches.rows import plan
from nanogen.config import Settings
from nanogen.errors import InvalidInput


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(NANOGEN_DATA_DIR=str(tmp_path))  # type: ignore[call-arg]


def test_lines_skip_blanks_and_number_rows() -> None:
    rows = from_lines('a red fox\n\n  a blue bird  \n', max_rows=10)
    assert [(r.number, r.prompt) for r in rows] == [(1, 'a red fox'), (2, 'a blue bird')]
    with pytest.raises(InvalidInput, match='at most 1 rows'):
        from_lines('one\ntwo', max_rows=1)
    with pytest.raises(InvalidInput, match='empty'):
        from_lines('\n \n', max_rows=5)


def test_csv_columns_aliases_and_errors_per_row(settings: Settings) -> None:
    data = (b'prompt,model,resolution,ratio,images,watermark,reference\n'
            b'a red fox,nanobanana,512,16:9,2,ACME,\n'
            b'a "quoted" fox,nanobanana-2,2K,1:8,1,,\n'
            b'bad ratio fox,nanobanana,1024,7:3,1,,\n'
            b'ref fox,,,,,,999\n'
            b'x,,,,,,\n')
    rows = from_csv(data, max_rows=10)
    checked = plan(settings, rows, own_image_ids={5}, uploads={'logo.png'})
    assert [r.ok for r in checked.rows] == [True, True, False, False, False] and checked.errors == 3
    assert checked.rows[0].request is not None and checked.rows[0].request.size == 512
    assert checked.rows[0].estimate == Decimal('0.010')  # 2 images at 512 px
    assert checked.rows[1].request is not None and checked.rows[1].request.resolution == '2K'
    assert checked.rows[2].field == 'ratio' and 'aspect ratio' in (checked.rows[2].error or '')
    assert checked.rows[3].field == 'reference' and 'Unknown reference' in (checked.rows[3].error or '')
    assert checked.rows[4].field == 'prompt'
    assert checked.total_estimate == Decimal('0.010') + Decimal('0.06')


def test_semicolon_csv_and_missing_prompt_column() -> None:
    assert [r.prompt for r in from_csv(b'prompt;ratio\na cat;1:1\n', max_rows=5)] == ['a cat']
    with pytest.raises(InvalidInput, match='"prompt" column'):
        from_csv(b'text2,ratio\nx,1:1\n', max_rows=5)
    with pytest.raises(InvalidInput, match='UTF-8'):
        from_csv(b'prompt\n\xff\xfe\x00', max_rows=5)


def test_xlsx_first_sheet(settings: Settings) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(['Prompt', 'Size', 'Images'])
    sheet.append(['a lighthouse at dusk', 768, 3])
    sheet.append([None, None, None])
    sheet.append(['a "quoted" <b>lamp</b>', 1024.0, 1])
    buf = io.BytesIO()
    book.save(buf)
    rows = from_xlsx(buf.getvalue(), max_rows=10)
    assert [(r.prompt, r.size, r.images) for r in rows] == [('a lighthouse at dusk', '768', '3'),
                                                             ('a "quoted" <b>lamp</b>', '1024', '1')]
    assert plan(settings, rows).ok
    with pytest.raises(InvalidInput, match='not an Excel'):
        from_xlsx(b'not a workbook', max_rows=10)


def test_templates_cartesian_and_zip() -> None:
    rows = from_template('a {product} on a {surface}', {'product': ['mug', 'lamp'], 'surface': ['desk', 'rug', 'bed']},
                         max_rows=100, settings_row={'ratio': '16:9'})
    assert len(rows) == 6 and rows[0].prompt == 'a mug on a desk' and rows[0].variables == {'product': 'mug',
                                                                                            'surface': 'desk'}
    assert rows[-1].prompt == 'a lamp on a bed' and rows[-1].ratio == '16:9'
    zipped = from_template('{a} and {b}', {'a': ['x', 'y'], 'b': ['1', '2']}, mode='zip', max_rows=10)
    assert [r.prompt for r in zipped] == ['x and 1', 'y and 2']
    with pytest.raises(InvalidInput, match='same length'):
        from_template('{a} and {b}', {'a': ['x'], 'b': ['1', '2']}, mode='zip', max_rows=10)
    with pytest.raises(InvalidInput, match='at least one value'):
        from_template('{a} and {b}', {'a': ['x']}, max_rows=10)
    with pytest.raises(InvalidInput, match='at most 5 rows'):
        from_template('{a}{b}', {'a': list('abc'), 'b': list('abc')}, max_rows=5)
    with pytest.raises(InvalidInput, match='names no variable'):
        from_template('plain', {}, max_rows=5)


def test_records_from_a_dataframe_shape() -> None:
    rows = from_records([{'prompt': 'a cat', 'num_images': 2}, {'Prompt': 'a dog', 'aspect ratio': '4:3'}], max_rows=5)
    assert (rows[0].images, rows[1].prompt, rows[1].ratio) == ('2', 'a dog', '4:3')
    with pytest.raises(InvalidInput, match='Row 1'):
        from_records(['not an object'], max_rows=5)  # type: ignore[list-item]


def test_round_robin_shares_between_users_within_rooms() -> None:
    queues = {1: [(10, 100), (10, 101), (10, 102), (10, 103)], 2: [(20, 200), (20, 201)], 3: [(30, 300)]}
    picked = round_robin(queues, user_room={1: 3, 2: 3, 3: 3}, batch_room={10: 4, 20: 1, 30: 4}, total_room=4)
    assert picked == [Promoted(100, 1), Promoted(200, 2), Promoted(300, 3), Promoted(101, 1)]
    assert round_robin({1: [(10, 1)]}, user_room={1: 0}, batch_room={10: 4}, total_room=4) == []
    # One slot free: it goes to the user with the smaller share in flight, not always to the lowest id.
    two = {1: [(10, 100)], 2: [(20, 200)]}
    assert round_robin(two, {1: 5, 2: 5}, {10: 4, 20: 4}, 1, in_flight={1: 1, 2: 0}) == [Promoted(200, 2)]
    assert round_robin(two, {1: 5, 2: 5}, {10: 4, 20: 4}, 1, in_flight={1: 0, 2: 1}) == [Promoted(100, 1)]
