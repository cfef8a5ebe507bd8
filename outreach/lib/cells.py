"""Cells for spreadsheets we write: text that a spreadsheet would run as a formula is never run.

A leading = + - @ (or their full-width forms ＝＋－＠), tab or carriage return makes Excel and WPS read text
as a formula. In .xlsx files (``outreach.lib.xlsx``) such text gets the cell's quote-prefix style: it shows
exactly as typed and is never evaluated. CSV has no styles, so text files use ``safe_cell``: a leading
apostrophe, the form OWASP recommends against CSV injection. ``unescape_cell`` undoes it when such a file
(or a sheet exported before the quote-prefix style) comes back in an import.
"""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def is_formula_like(value) -> bool:
    """True for text a spreadsheet would treat as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def safe_cell(value):
    """For CSV: ``value`` unchanged unless it is formula-like text, which gets a leading apostrophe."""
    if is_formula_like(value):
        return "'" + value
    return value


def unescape_cell(value):
    """Undo ``safe_cell`` when a sheet we exported comes back in an import."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value
