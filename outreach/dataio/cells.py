"""What a cell of an imported sheet means: text, a phone number, an integer in a range, 是/否, an id.

Each cleaner takes the raw cell (as python-calamine or the CSV reader gives it) and returns ``(value, message)``,
the message empty when the cell is good. ``outreach.dataio.columns`` names the cleaner of each column, so a
column is cleaned the same way by every kind of sheet that has it. Phone rules are ``outreach.lib.phones``'.
"""

import re

from outreach.lib.cells import unescape_cell
from outreach.lib.phones import is_valid_phone, normalize_phone

_TRUE = {"是", "√", "✓", "1", "y", "yes", "true", "t", "有", "在岗"}
_FALSE = {"否", "×", "0", "n", "no", "false", "f", "无", "", "不在岗"}


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(unescape_cell(value) if isinstance(value, str) else value).replace("\u3000", " ").strip()


def is_masked(value) -> bool:
    return isinstance(value, str) and "*" in value


def phone(value):
    """(digits, error message or "") for a phone cell; empty is allowed."""
    if value in (None, ""):
        return "", ""
    if isinstance(value, float) and not value.is_integer():
        return "", f"“{value}”不是电话号码"
    digits = normalize_phone(value)
    if not digits:
        return "", ""
    if not digits.isdigit():
        return "", f"“{text(value)}”不是电话号码"
    if is_valid_phone(digits):
        return digits, ""
    if len(digits) == 18 or len(digits) == 15:
        return "", f"“{text(value)}”像是身份证号，不是电话号码"
    return "", f"“{text(value)}”不是11位手机号或带区号的座机号"


def _int(value, low, high, default=None):
    if value in (None, ""):
        return default, ""
    if isinstance(value, float):
        if not value.is_integer():
            return None, f"“{value}”不是整数"
        value = int(value)
    if isinstance(value, str):
        cleaned = value.replace(",", "").replace("，", "").replace("人", "").replace("户", "").strip()
        if not re.fullmatch(r"\d+", cleaned):
            return None, f"“{value}”不是整数"
        value = int(cleaned)
    if not isinstance(value, int) or isinstance(value, bool):
        return None, f"“{value}”不是整数"
    if value < low or value > high:
        return None, f"应在{low}到{high}之间，不是{value}"
    return value, ""


def _bool(value):
    if isinstance(value, bool):
        return value, ""
    t = text(value).lower()
    if t in _TRUE:
        return True, ""
    if t in _FALSE:
        return False, ""
    return None, f"“{text(value)}”应填“是”或“否”"


def _id(value):
    if value in (None, ""):
        return None, ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    t = text(value)
    if not t.isdigit():
        return None, f"“{t}”不是编号"
    return int(t), ""
