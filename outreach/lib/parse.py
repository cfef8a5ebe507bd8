"""Lenient parsers for values people and phones send: spreadsheet cells, JSON fields, POSTed ids.

One place for "is this a yes", "is this a whole number", "is this an id", used by the imports
(``outreach.dataio.importers``), the phone's visit form and the review pages (``outreach.mobile``).
Each returns the value or raises ``Unparsable``, whose text is a Chinese message naming what was sent
(the imports show it as "第N行 列: 错误"); a caller with its own wording picks it by ``code``.
"""

import datetime as dt
import re

from outreach.lib.cells import unescape_cell

# What clerks type in a yes/no column, and what a browser's checkbox or a JSON boolean sends.
TRUE_WORDS = frozenset({"是", "√", "✓", "1", "y", "yes", "true", "t", "on", "有", "在岗"})
FALSE_WORDS = frozenset({"否", "×", "0", "n", "no", "false", "f", "off", "无", "", "不在岗"})
_UNIT_SUFFIXES = (",", "，", "人", "户")


class Unparsable(ValueError):
    """``value`` is not what was asked for. ``code`` is ``"invalid"`` (not that kind of value) or ``"range"``."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message, self.code = message, code


def cell_text(value) -> str:
    """A cell or field as trimmed text: whole floats lose ``.0``, our formula escape and full-width spaces go."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(unescape_cell(value) if isinstance(value, str) else value).replace("\u3000", " ").strip()


def parse_bool(value) -> bool:
    """``True``/``False`` from a boolean, 1/0, or a yes/no word (是/否, √/×, true/false, on/off…); empty is False."""
    if isinstance(value, bool):
        return value
    word = cell_text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Unparsable(f"“{cell_text(value)}”应填“是”或“否”")


def parse_int(value, low: int, high: int, default=None):
    """A whole number in ``low``..``high``; ``default`` when empty.

    Takes ints, whole floats (Excel's numbers) and digits with thousands separators or a 人/户 unit
    ("1,234人"); refuses booleans, fractions and signs.
    """
    if value in (None, ""):
        return default
    if isinstance(value, float):
        if not value.is_integer():
            raise Unparsable(f"“{value}”不是整数")
        value = int(value)
    if isinstance(value, str):
        cleaned = value
        for suffix in _UNIT_SUFFIXES:
            cleaned = cleaned.replace(suffix, "")
        cleaned = cleaned.strip()
        if not re.fullmatch(r"\d+", cleaned):
            raise Unparsable(f"“{value}”不是整数")
        value = int(cleaned)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unparsable(f"“{value}”不是整数")
    if value < low or value > high:
        raise Unparsable(f"应在{low}到{high}之间，不是{value}", code="range")
    return value


def parse_id(value) -> int | None:
    """A database id (digits only, whole floats allowed); ``None`` when empty."""
    if value in (None, ""):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = cell_text(value)
    if not text.isdecimal():
        raise Unparsable(f"“{text}”不是编号")
    return int(text)


_DATE = re.compile(r"(\d{4})\s*[年\-./]\s*(\d{1,2})\s*[月\-./]\s*(\d{1,2})\s*日?")


def parse_date(value) -> dt.date | None:
    """A day from a date cell (Excel's, as a date or datetime) or text ("2021-08-13", "2021年8月13日",
    "2021/8/13", "2021.8.13"); ``None`` when empty."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    match = _DATE.fullmatch(text)
    if match is None:
        raise Unparsable(f"“{text}”不是日期（请写成 2021-08-13 或 2021年8月13日）")
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise Unparsable(f"“{text}”不是有效日期") from None
