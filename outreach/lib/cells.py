"""Cells for spreadsheets we write: text that a spreadsheet would run as a formula is made plain text.

Every xlsx and csv export (round-trip sheets, table exports, bulletins) passes string cells through
``safe_cell``. A leading = + - @ (or their full-width forms), tab or carriage return gets a leading
apostrophe, the form Excel and WPS show as text and OWASP recommends against CSV injection.
"""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def safe_cell(value):
    """``value`` unchanged unless it is text a spreadsheet would treat as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unescape_cell(value):
    """Undo ``safe_cell`` when a sheet we exported comes back in an import."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value
