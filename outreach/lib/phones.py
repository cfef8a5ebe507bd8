"""Phone number normalisation and masking, shared by models, imports and exports."""

import re

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋－　", "0123456789+- ")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def normalize_phone(value) -> str:
    """Return the digits of a phone number as clerks type it.

    Takes numbers stored by Excel as floats (13812345678.0), full-width digits, spaces, dashes and
    a leading +86. Returns "" for empty input; does not validate (see ``is_valid_phone``).
    """
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        value = f"{value:.0f}"
    text = str(value).translate(_FULLWIDTH).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    text = _SEPARATORS.sub("", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    return text


def is_valid_phone(digits: str) -> bool:
    """An 11-digit mainland mobile number or a landline with its area code."""
    return bool(_MOBILE.match(digits) or _LANDLINE.match(digits))


def mask_phone(digits: str) -> str:
    """138****5678 for a mobile; keep the area code and last four of anything else."""
    if not digits:
        return ""
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) > 4:
        return f"{digits[:3]}{'*' * (len(digits) - 7 if len(digits) > 7 else 1)}{digits[-4:]}"
    return "*" * len(digits)
