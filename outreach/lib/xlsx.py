"""The one .xlsx writer of the project: rows in, an xlsxwriter workbook in constant-memory mode out.

Every export (round-trip sheets, rankings, bulletins, error lists, the user export) declares its columns
and hands over rows; this module decides how each value becomes a cell:

- text is always a string cell; text a spreadsheet would run as a formula (a leading = + - @, their
  full-width forms ＝＋－＠, tab or CR) gets the quote-prefix style (xlsxwriter ``set_quote_prefix``):
  Excel and WPS show it as typed, without an apostrophe, and never evaluate it;
- integers and Decimals are numbers; ``bool`` is 是/否; dates and datetimes are date cells (aware
  datetimes in local time);
- a ``percent`` column takes the metric's own rounded percentage (``Decimal("3.13")``) and stores 0.0313
  formatted ``0.00%``, so the cell shows what the page shows and still sums and sorts;
- a ``change`` column stores a signed change as a number; the sign comes from the number format;
- ``None`` is a blank cell, or the column's ``missing`` text ("—") where the page shows one.

Rows stream: the workbook is written row by row with ``constant_memory`` (one row in memory), to a path
or a file-like object such as ``BytesIO``. Column widths come from the header and the first rows.
"""

import datetime as dt
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import xlsxwriter
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from outreach.lib.cells import FORMULA_PREFIXES, is_formula_like

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

KINDS = ("auto", "text", "number", "percent", "change", "date", "datetime")
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# Rows measured for column widths; later rows are written without looking at their length.
MEASURED_ROWS = 500
MAX_WIDTH = 50


@dataclass(frozen=True)
class Column:
    """A column of a sheet: its header, how its values become cells, and what ``None`` shows.

    ``kind``: ``auto`` (by the value's type), ``text``, ``number``, ``percent`` (a percentage such as
    ``Decimal("3.13")``), ``change`` (a signed change), ``date``, ``datetime``. ``decimals`` is the
    precision of a percent or change column; ``num_format`` overrides the number format (e.g. ``#,##0``).
    """

    header: str
    kind: str = "auto"
    width: float | None = None
    decimals: int = 2
    num_format: str | None = None
    missing: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    def number_format(self) -> str | None:
        if self.num_format:
            return self.num_format
        places = "0." + "0" * self.decimals if self.decimals else "0"
        if self.kind == "percent":
            return places + "%"
        if self.kind == "change":
            if not self.decimals:
                return "+#,##0;-#,##0;0"
            return f"+{places};-{places};{places}"
        if self.kind == "date":
            return DATE_FORMAT
        if self.kind == "datetime":
            return DATETIME_FORMAT
        return None


_EXTRA = Column("")  # a value beyond the declared columns is written by its type
_PLAIN_NUMBERS = ("number", "auto")  # kinds that write an int as it is (no percent or text conversion)


def columns(*headers: str, **options) -> list[Column]:
    """Plain columns for ``headers`` (all sharing ``options``)."""
    return [Column(h, **options) for h in headers]


def text_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class Workbook:
    """An xlsxwriter workbook in constant-memory mode; sheets are written row by row, in order.

    ``target`` is a path or a binary file object (``BytesIO``). Use as a context manager, or call
    ``close()``; ``rows`` counts the data rows written in all sheets.
    """

    def __init__(self, target: str | Path | io.IOBase):
        self.book = xlsxwriter.Workbook(
            str(target) if isinstance(target, str | Path) else target,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self.rows = 0
        self._names: set[str] = set()
        self._formats: dict[tuple, object] = {}
        self._sheets: list[Sheet] = []

    def format(self, **properties):
        """A cached xlsxwriter format with ``properties`` (``None`` for none)."""
        if not properties:
            return None
        key = tuple(sorted(properties.items()))
        if key not in self._formats:
            self._formats[key] = self.book.add_format(properties)
        return self._formats[key]

    def sheet(self, name: str, columns: list[Column], title_rows: Iterable[str] = (), header: bool = True):
        """A new sheet named ``name`` (made valid and unique), with title rows, then the bold header."""
        sheet = Sheet(self, self.book.add_worksheet(self._sheet_name(name)), list(columns))
        for i, title in enumerate(title_rows):
            sheet.write_text_row([title], bold=True, font_size=14 if i == 0 else None)
        if header:
            sheet.write_text_row(
                [c.header for c in sheet.columns], bold=True, border=1, bg_color="#DDEBF7", text_wrap=True
            )
            sheet.ws.freeze_panes(sheet.row, 0)
        self._sheets.append(sheet)
        return sheet

    def _sheet_name(self, name: str) -> str:
        name = (name or "Sheet").strip()
        for bad in "[]:*?/\\":
            name = name.replace(bad, "_")
        name = name.strip("'")[:31] or "Sheet"
        base, n = name, 2
        while name.lower() in self._names:
            suffix = f"_{n}"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        self._names.add(name.lower())
        return name

    def close(self):
        for sheet in self._sheets:
            sheet.set_widths()
        self.book.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Sheet:
    """One worksheet: ``write(values)`` appends a data row typed by the sheet's columns."""

    def __init__(self, workbook: Workbook, ws, columns: list[Column]):
        self.workbook, self.ws, self.columns = workbook, ws, columns
        self.row = 0
        self.data_rows = 0
        self._widths = [text_width(c.header) + 2 for c in columns]
        fmt = workbook.format
        self._number_formats = [fmt(num_format=c.number_format()) if c.number_format() else None for c in columns]
        self._date_format = fmt(num_format=DATE_FORMAT)
        self._datetime_format = fmt(num_format=DATETIME_FORMAT)
        self._quoted = fmt(quote_prefix=True)

    def write_text_row(self, texts: Iterable[str], **style):
        """A row of text cells (title, header, a note) in ``style``; formula-like text is quote-prefixed."""
        for col, text in enumerate(texts):
            if text is None or text == "":
                continue
            text = str(text)
            properties = {k: v for k, v in style.items() if v is not None}
            if is_formula_like(text):
                properties["quote_prefix"] = True
            self.ws.write_string(self.row, col, text, self.workbook.format(**properties))
        self.row += 1

    def write(self, values: Iterable):
        row, measure, columns = self.row, self.data_rows < MEASURED_ROWS, self.columns
        for col, value in enumerate(values):
            column = columns[col] if col < len(columns) else _EXTRA
            if value is None or value == "":
                if not column.missing:
                    continue
                value = column.missing
            if type(value) is str:  # the common case first: a row is mostly text
                quoted = value.startswith(FORMULA_PREFIXES)
                self.ws.write_string(row, col, value, self._quoted if quoted else None)
                shown = value
            elif type(value) is int and column.kind in _PLAIN_NUMBERS:  # ids, 序号, counts: no conversion
                self.ws.write_number(row, col, value, self._number_formats[col] if column is not _EXTRA else None)
                shown = value
            else:
                shown = self._write_cell(row, col, column, value)
            if measure and col < len(self._widths):
                self._widths[col] = max(self._widths[col], text_width(str(shown)) + 2)
        self.row += 1
        self.data_rows += 1
        self.workbook.rows += 1

    def write_rows(self, rows: Iterable[Iterable]):
        for values in rows:
            self.write(values)

    def _write_cell(self, row: int, col: int, column: Column, value) -> str:
        """Write one cell; returns the text it shows (for the column width)."""
        ws, kind = self.ws, column.kind
        if isinstance(value, str):
            ws.write_string(row, col, value, self._quoted if is_formula_like(value) else None)
            return value
        if isinstance(value, bool):
            text = "是" if value else "否"
            ws.write_string(row, col, text)
            return text
        if kind == "text":
            text = str(value)
            ws.write_string(row, col, text, self._quoted if is_formula_like(text) else None)
            return text
        if isinstance(value, dt.date):
            return self._write_date(row, col, column, value)
        if isinstance(value, int | Decimal | float):
            number = value
            if kind == "percent":
                number = Decimal(value) / 100
            ws.write_number(row, col, float(number), self._number_formats[col] if col < len(self.columns) else None)
            return f"{value:.{column.decimals}f}%" if kind == "percent" else str(value)
        text = str(value)
        ws.write_string(row, col, text, self._quoted if is_formula_like(text) else None)
        return text

    def _write_date(self, row: int, col: int, column: Column, value) -> str:
        if isinstance(value, dt.datetime):
            if timezone.is_aware(value):
                value = timezone.localtime(value).replace(tzinfo=None)
            if column.kind == "date":
                value = value.date()
        if isinstance(value, dt.datetime):
            self.ws.write_datetime(row, col, value, self._datetime_format)
            return "0000-00-00 00:00"
        self.ws.write_datetime(row, col, value, self._date_format)
        return "0000-00-00"

    def set_widths(self):
        for col, column in enumerate(self.columns):
            width = column.width or min(self._widths[col], MAX_WIDTH)
            self.ws.set_column(col, col, width)


def workbook_bytes(columns: list[Column], rows: Iterable[Iterable], title_rows: Iterable[str] = (), sheet="Sheet1"):
    """One sheet of ``rows`` under ``columns`` (after the title rows) as .xlsx bytes."""
    buffer = io.BytesIO()
    with Workbook(buffer) as book:
        book.sheet(sheet, columns, title_rows).write_rows(rows)
    return buffer.getvalue()


def response(body: bytes, filename: str) -> HttpResponse:
    """A download of ``body`` named ``filename`` (Django's own Content-Disposition, UTF-8 names included)."""
    reply = HttpResponse(body, content_type=XLSX_CONTENT_TYPE)
    reply["Content-Disposition"] = content_disposition_header(True, filename)
    return reply
