"""The one xlsx writer (outreach.lib.xlsx): typed cells, quote-prefixed formula-like text, streaming."""

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.utils import timezone

from outreach.lib import xlsx
from tests.xlsx_checks import assert_quoted_text, has_no_formulas, open_book

FORMULA_LIKE = ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx", "＝1+1", "＋1", "－1", "＠SUM(A1)", "=cmd|' /C calc'!A0"]


def one_sheet(columns, rows, **kwargs):
    data = xlsx.workbook_bytes(columns, rows, **kwargs)
    return data, open_book(data).active


@pytest.mark.parametrize("text", FORMULA_LIKE)
def test_it_writes_formula_like_text_quote_prefixed_never_with_an_apostrophe(text):
    data, sheet = one_sheet([xlsx.Column("姓名")], [[text]], title_rows=[text])
    assert_quoted_text(sheet["A1"], text)  # a title row too
    assert_quoted_text(sheet["A3"], text)
    assert has_no_formulas(data)


def test_it_leaves_plain_text_unstyled():
    _, sheet = one_sheet([xlsx.Column("姓名")], [["张三"], ["a=b"]])
    assert sheet["A2"].value == "张三" and not sheet["A2"].quotePrefix
    assert sheet["A3"].value == "a=b" and not sheet["A3"].quotePrefix


def test_it_types_numbers_rates_changes_dates_and_flags():
    columns = [
        xlsx.Column("户数", kind="number", num_format="#,##0"),
        xlsx.Column("金额"),
        xlsx.Column("注册率", kind="percent"),
        xlsx.Column("较上期", kind="change"),
        xlsx.Column("较上期人数", kind="change", decimals=0),
        xlsx.Column("日期", kind="date"),
        xlsx.Column("时间", kind="datetime"),
        xlsx.Column("在岗"),
    ]
    moment = timezone.make_aware(dt.datetime(2021, 8, 13, 9, 30))
    row = [62113, Decimal("1.5"), Decimal("3.13"), Decimal("-0.42"), 120, moment, moment, True]
    data, sheet = one_sheet(columns, [row])
    cells = sheet[2]
    assert (cells[0].value, cells[0].data_type, cells[0].number_format) == (62113, "n", "#,##0")
    assert (cells[1].value, cells[1].data_type) == (1.5, "n")
    assert cells[2].value == pytest.approx(0.0313, abs=1e-12) and cells[2].number_format == "0.00%"
    assert cells[3].value == pytest.approx(-0.42) and cells[3].number_format == "+0.00;-0.00;0.00"
    assert cells[4].value == 120 and cells[4].number_format == "+#,##0;-#,##0;0"
    assert cells[5].value == dt.datetime(2021, 8, 13) and cells[5].number_format == "yyyy-mm-dd"
    # An aware datetime is written in local time (Asia/Shanghai), not UTC.
    assert cells[6].value == dt.datetime(2021, 8, 13, 9, 30) and cells[6].number_format == "yyyy-mm-dd hh:mm"
    assert cells[7].value == "是"
    assert has_no_formulas(data)


def test_it_writes_none_blank_or_as_the_columns_missing_text():
    columns = [xlsx.Column("名次", kind="number", missing="—"), xlsx.Column("备注")]
    data, sheet = one_sheet(columns, [[None, None], [1, ""]])
    assert sheet["A2"].value == "—" and sheet["B2"].value is None
    assert sheet["A3"].value == 1 and sheet["B3"].value is None
    assert b'r="B3"' not in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")  # no empty cell


def test_it_writes_a_bold_frozen_header_after_the_title_rows_and_sets_widths():
    columns = [xlsx.Column("单位"), xlsx.Column("错误说明", width=60)]
    _, sheet = one_sheet(columns, [["运城市盐湖区", "x"]], title_rows=["标题", "副标题"])
    assert [sheet["A1"].value, sheet["A2"].value] == ["标题", "副标题"]
    assert sheet["A1"].font.b and sheet["A1"].font.sz == 14
    assert [c.value for c in sheet[3]] == ["单位", "错误说明"] and sheet["A3"].font.b
    assert sheet.freeze_panes == "A4"
    assert sheet.column_dimensions["A"].width >= 14  # 6 CJK characters count twice
    assert 60 <= sheet.column_dimensions["B"].width < 61  # xlsxwriter adds its padding


def test_it_streams_in_constant_memory_to_a_path_or_a_file(tmp_path):
    path = tmp_path / "out.xlsx"
    with xlsx.Workbook(path) as book:
        assert book.book.constant_memory
        sheet = book.sheet("a/b:c", [xlsx.Column("n", kind="number")])
        sheet.write_rows([i] for i in range(3000))
        book.sheet("a/b:c", [xlsx.Column("n")])  # a second sheet of the same name gets a suffix
    assert book.rows == 3000
    workbook = open_book(path)
    assert workbook.sheetnames == ["a_b_c", "a_b_c_2"]
    assert workbook["a_b_c"]["A3001"].value == 2999
    buffer = io.BytesIO()
    with xlsx.Workbook(buffer) as book:
        book.sheet("x", [xlsx.Column("n")]).write([1])
    assert open_book(buffer.getvalue()).active["A2"].value == 1


def test_it_refuses_an_unknown_column_kind():
    with pytest.raises(ValueError):
        xlsx.Column("x", kind="money")
