"""Reading back the .xlsx files we write, with openpyxl, to check cell types, formats and the quote prefix."""

import io
import zipfile

import openpyxl
from openpyxl.utils.escape import unescape


def open_book(data) -> openpyxl.Workbook:
    """A workbook from bytes, a path or a streaming response's content (styles loaded, not read-only)."""
    if isinstance(data, bytes | bytearray):
        data = io.BytesIO(data)
    return openpyxl.load_workbook(data)


def has_no_formulas(data: bytes) -> bool:
    """No worksheet of the file holds a formula element: nothing in it can be evaluated."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        return all(b"<f>" not in archive.read(n) and b"<f " not in archive.read(n) for n in sheets)


def assert_quoted_text(cell, text: str):
    """``cell`` holds ``text`` exactly, as a string, with the quote-prefix style and no visible apostrophe."""
    # openpyxl leaves a CR as xlsx spells it (_x000D_); Excel reads it back as the character.
    assert unescape(cell.value) == text, (cell.coordinate, cell.value)
    assert cell.data_type == "s", (cell.coordinate, cell.data_type)
    assert cell.quotePrefix is True, (cell.coordinate, "no quote prefix")


def find_cell(sheet, value):
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value == value:
                return cell
    raise AssertionError(f"{value!r} not in {sheet.title}")


def column_cells(sheet, header: str, header_row: int):
    """The data cells under ``header`` (the header is in row ``header_row``, 1-based)."""
    headers = [c.value for c in sheet[header_row]]
    col = headers.index(header) + 1
    return [sheet.cell(row=r, column=col) for r in range(header_row + 1, sheet.max_row + 1)]
