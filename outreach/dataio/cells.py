"""What a cell of an imported sheet means: text, a phone number, an integer in a range, 是/否, an id.

Each cleaner takes the raw cell (as python-calamine or the CSV reader gives it) and returns ``(value, message)``,
the message empty when the cell is good. ``outreach.dataio.columns`` names the cleaner of each column, so a
column is cleaned the same way by every kind of sheet that has it. Phone rules are ``outreach.lib.phones``'.
"""

from outreach.lib.parse import Unparsable, cell_text, parse_bool, parse_date, parse_id, parse_int
from outreach.lib.phones import is_valid_phone, normalize_phone

# The lenient parsers are outreach.lib.parse's (the phone's visit form uses the same); here they answer in the
# (value, message) pairs the columns' cleaners return.


def text(value) -> str:
    """``cell_text``, answered at once for the common cell: text with no formula escape and no full-width space."""
    if value.__class__ is str and "\u3000" not in value and not value.startswith("'"):
        return value.strip()
    return cell_text(value)


def is_masked(value) -> bool:
    return isinstance(value, str) and "*" in value


def phone(value):
    """(digits, error message or "") for a phone cell; empty is allowed."""
    if value.__class__ is str and len(value) == 11 and value.isascii() and value.isdigit() and is_valid_phone(value):
        return value, ""  # already the digits of a mobile number: most cells of a big sheet
    if value.__class__ is int and 13_000_000_000 <= value < 20_000_000_000:
        digits = str(value)  # a mobile number typed as an Excel number (the reader makes whole floats ints)
        if is_valid_phone(digits):
            return digits, ""
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


def _pair(parse, *args):
    try:
        return parse(*args), ""
    except Unparsable as exc:
        return None, exc.message


def _int(value, low, high, default=None):
    if value in (None, ""):
        return default, ""
    return _pair(parse_int, value, low, high, default)


def _bool(value):
    return _pair(parse_bool, value)


def _id(value):
    return _pair(parse_id, value)


def _date(value):
    return _pair(parse_date, value)


def choice(choices):
    """A cleaner for a TextChoices column: the Chinese label (or the ASCII value) → the value."""
    by_text = {str(label): value for value, label in choices.choices} | {value: value for value in choices.values}

    def clean(value):
        word = text(value)
        if not word:
            return "", ""
        if word in by_text:
            return by_text[word], ""
        return "", f"“{word}”不是可选的值（可选：{'、'.join(str(label) for label in choices.labels)}）"

    return clean
