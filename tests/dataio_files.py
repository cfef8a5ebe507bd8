"""Sheets as clerks make them, built in memory for the import tests."""

import io

import openpyxl

HEADER = ["序号", "镇（街道）", "村（社区）", "网格", "党员姓名", "党员联系电话", "所在党组织", "户主姓名",
          "户主联系电话", "家庭住址", "家庭人口", "备注"]  # fmt: skip


def responsibility_book(
    sheets: dict[str, list[list]], title="新绛县“十万党员进百万家”党员包联入户责任分工表", merge=True
):
    """A workbook with a title row, a 填报单位 row, the header on row 3, a 合计 row and a signature line.

    ``sheets`` maps a sheet name to data rows; a member cell left None under a named member is merged
    into the block above it (as clerks do) when ``merge`` is true.
    """
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        ws.append([f"{title}（{name}）"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=12)
        ws.append(["填报单位：（盖章）", None, None, None, None, None, None, None, "填报日期：2021年8月10日"])
        ws.append(HEADER)
        start = None
        for i, row in enumerate(rows):
            ws.append(row)
            excel_row = 4 + i
            if row and len(row) > 4 and row[4] is not None:
                if merge and start is not None and excel_row - 1 > start:
                    for col in (5, 6, 7):
                        ws.merge_cells(start_row=start, start_column=col, end_row=excel_row - 1, end_column=col)
                start = excel_row
        end = 3 + len(rows)
        if merge and start is not None and end > start:
            for col in (5, 6, 7):
                ws.merge_cells(start_row=start, start_column=col, end_row=end, end_column=col)
        ws.append(["合计", None, None, None, None, None, None, f"{len(rows)}户"])
        ws.append([])
        ws.append(["填表人：", None, None, "审核人："])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def simple_book(rows: list[list], title: str | None = None) -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    if title:
        ws.append([title])
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xls_book(rows: list[list], sheet="龙兴镇") -> bytes:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet(sheet)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None:
                ws.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
