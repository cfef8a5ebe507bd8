import re
import sys

import pytest

from outreach.lib.names import clean_name, short_village_name
from outreach.lib.phones import is_valid_phone, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        (13812345678.0, "13812345678"),
        ("13812345678.0", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("0359-7654321", "03597654321"),
        (None, ""),
        ("", ""),
    ],
)
def test_it_normalizes_phones_as_clerks_type_them(raw, digits):
    assert normalize_phone(raw) == digits


def test_it_validates_phones():
    assert is_valid_phone("13812345678")
    assert is_valid_phone("03597654321")
    assert not is_valid_phone("1381234567")
    assert not is_valid_phone("12812345678")


def test_it_masks_phones():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("") == ""
    assert "7654321" not in mask_phone("03597654321")


@pytest.mark.parametrize(
    ("official", "short"),
    [
        ("周庄村委会", "周庄村"),
        ("石村村委会", "石村"),
        ("西花园社区居委会", "西花园社区"),
        ("新绛县经济技术开发区虚拟社区", "新绛县经济技术开发区虚拟社区"),
    ],
)
def test_it_shortens_official_village_names(official, short):
    assert short_village_name(official) == short


@pytest.mark.parametrize("text", ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "＝1+1"])
def test_it_makes_formula_like_text_plain(text):
    from outreach.lib.cells import safe_cell, unescape_cell

    assert safe_cell(text) == "'" + text
    assert unescape_cell(safe_cell(text)) == text


def test_it_leaves_numbers_and_plain_text_alone():
    from outreach.lib.cells import safe_cell

    assert safe_cell(-5) == -5
    assert safe_cell("张三") == "张三"
    assert safe_cell(None) is None


# --- lenient parsers (outreach.lib.parse): the imports and the phone read values through the same functions ---


@pytest.mark.parametrize(
    ("raw", "value"),
    [(True, True), (False, False), (1, True), (0, False), (1.0, True), (None, False), ("", False)]
    + [(word, True) for word in ("是", "√", "TRUE", " yes ", "on", "有", "在岗", "1")]
    + [(word, False) for word in ("否", "×", "false", "No", "off", "无", "不在岗", "0", "\u3000")],
)
def test_it_reads_yes_and_no_as_clerks_and_phones_send_them(raw, value):
    from outreach.lib.parse import parse_bool

    assert parse_bool(raw) is value


@pytest.mark.parametrize("raw", ["也许", "2", 2, "yes please", [True]])
def test_it_refuses_a_yes_no_it_cannot_read_with_a_chinese_message(raw):
    from outreach.lib.parse import Unparsable, parse_bool

    with pytest.raises(Unparsable, match="应填“是”或“否”") as caught:
        parse_bool(raw)
    assert caught.value.code == "invalid"


@pytest.mark.parametrize(
    ("raw", "value"),
    [(None, 7), ("", 7), (3, 3), (3.0, 3), ("12", 12), (" 1,234人 ", 1234), ("5户", 5), ("１２", 12)],
)
def test_it_reads_whole_numbers_leniently(raw, value):
    from outreach.lib.parse import parse_int

    assert parse_int(raw, 0, 10_000, default=7) == value


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (2.5, "invalid", "“2.5”不是整数"),
        ("3.0", "invalid", "不是整数"),
        ("-1", "invalid", "不是整数"),
        (True, "invalid", "不是整数"),
        ([1], "invalid", "不是整数"),
        (51, "range", "应在0到50之间，不是51"),
        (-1, "range", "不是-1"),
    ],
)
def test_it_refuses_a_number_it_cannot_take_and_says_why(raw, code, words):
    from outreach.lib.parse import Unparsable, parse_int

    with pytest.raises(Unparsable) as caught:
        parse_int(raw, 0, 50)
    assert caught.value.code == code and words in caught.value.message


@pytest.mark.parametrize(("raw", "value"), [(None, None), ("", None), (12, 12), (12.0, 12), (" 12 ", 12)])
def test_it_reads_ids(raw, value):
    from outreach.lib.parse import parse_id

    assert parse_id(raw) == value


@pytest.mark.parametrize("raw", ["12a", "-3", 12.5, True, "²", "1 2"])
def test_it_refuses_what_is_not_an_id(raw):
    from outreach.lib.parse import Unparsable, parse_id

    with pytest.raises(Unparsable, match="不是编号"):
        parse_id(raw)


def test_it_cleans_every_kind_of_space_out_of_a_name():
    assert clean_name(" 王\u3000 强\t\n") == "王强" and clean_name("李\xa0秀英") == "李秀英"
    assert clean_name(None) == "" and clean_name(13812345678) == "13812345678"
    # The same characters as the regular expression \s it replaced, over all of Unicode.
    spaces = re.compile(r"\s")
    assert all(bool(spaces.match(c)) == (clean_name(f"a{c}b") == "ab") for c in map(chr, range(sys.maxunicode + 1)))
