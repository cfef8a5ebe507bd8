import pytest

from outreach.lib.names import short_village_name
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
