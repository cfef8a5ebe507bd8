"""The .xlsx files of the dashboards: rankings and bulletins, written with xlsxwriter in memory."""

import io

import xlsxwriter

from outreach.lib.cells import safe_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook_bytes(title: str, rows, subtitle: str = "") -> bytes:
    """A sheet with a title row, an optional subtitle row, then a header and data rows."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("排名")
    bold = book.add_format({"bold": True})
    head = book.add_format({"bold": True, "bg_color": "#F3F4F6", "border": 1})
    title_format = book.add_format({"bold": True, "font_size": 14})
    r = 0
    sheet.write_string(r, 0, safe_cell(title), title_format)
    r += 1
    if subtitle:
        sheet.write_string(r, 0, safe_cell(subtitle), bold)
        r += 1
    widths = {}
    for i, row in enumerate(rows):
        for c, value in enumerate(row):
            fmt = head if i == 0 else None
            if value is None:
                sheet.write_blank(r, c, None, fmt)
            elif isinstance(value, bool):
                sheet.write_string(r, c, "是" if value else "否", fmt)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value, fmt)
            else:
                text = safe_cell(str(value))
                sheet.write_string(r, c, text, fmt)
                widths[c] = max(widths.get(c, 6), min(40, len(text) * 2))
        r += 1
    for c, w in widths.items():
        sheet.set_column(c, c, w)
    book.close()
    return buffer.getvalue()
