"""Reading sheets the way clerks make them: .xlsx/.xls through python-calamine, .csv in UTF-8 or GB18030.

A workbook becomes a list of ``Sheet``: its title line (for the county and the date), the header row found
under the title and 填报单位 rows, and the data rows keyed by field (see ``headers``), each with the row
number Excel shows. Merged cells are filled from their top-left cell (a member merged down over their
households); blank rows, 合计 rows, signature lines and repeated headers are left out.

``check_upload`` (``outreach.lib.uploads``) refuses what must not be opened; every row read here passes
its cell-length check, so an over-long cell refuses the file naming sheet, row and column.
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from outreach.dataio.columns import KINDS, header, key_for, norm_header
from outreach.lib.uploads import UploadRefused, check_rows, check_upload

__all__ = ["UploadRefused", "Sheet", "check_upload", "read_sheets"]
HEADER_SEARCH_ROWS = 20
_TRAILER = re.compile(r"^(合计|总计|小计|共计|填表人|审核人|制表人|负责人|联系人|说明|注[:：]|备注[:：])")
_SIGNATURE = ("填表人", "审核人", "制表人", "签字", "盖章）")
# A cell starting (after spaces) with a signature word, tested on a row's text cells joined by NUL (which no
# cell holds): a cell starts at the text's start or after a NUL.
_SIGNATURE_ANY = re.compile(r"(?:^|\x00)\s*(?:" + "|".join(map(re.escape, _SIGNATURE)) + ")")


@dataclass
class Sheet:
    name: str
    title: str = ""
    meta: list[str] = field(default_factory=list)
    header_row: int = 0
    columns: dict[str, int] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # Data rows as (Excel row number, {key: value}); a generator, read once, so a big sheet is never all in memory.
    rows: Iterator[tuple[int, dict]] = field(default_factory=lambda: iter(()))
    size: int = 0


def read_sheets(path: Path, file_name: str, kind: str) -> list[Sheet]:
    """All sheets of the file that have a header of ``kind``; raises ``UploadRefused`` if none has one."""
    suffix = Path(file_name).suffix.lower()
    if suffix == ".csv":
        rows = list(_csv_rows(path))
        raw = [(Path(file_name).stem, rows, None, len(rows))]
    else:
        raw = _workbook_rows(path)
    sheets = []
    for name, rows, merged, size in raw:
        sheet = _parse_sheet(name, rows, merged, kind)
        if sheet is not None:
            sheet.size = max(size - sheet.header_row, 0)
            sheets.append(sheet)
    if not sheets:
        needed = "、".join(header(k) for k in KINDS[kind]["required"])
        raise UploadRefused(f"文件中没有找到表头：应有一行包含“{needed}”等列")
    return sheets


def _decode(data: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            # A byte-order mark (UTF-8's EF BB BF, GB18030's 84 31 95 33) decodes to U+FEFF: not part of the header.
            return data.decode(encoding).lstrip("\ufeff")
        except UnicodeDecodeError:
            continue
    raise UploadRefused("无法识别 CSV 文件的编码：请另存为 UTF-8 或 GBK 编码")


def _csv_rows(path: Path) -> Iterator[list]:
    text = _decode(path.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        yield from csv.reader(io.StringIO(text), dialect)
    except csv.Error as exc:
        raise UploadRefused(f"CSV 文件格式不对（{exc}）：请用 Excel 或 WPS 另存为 CSV 后再导入") from exc


def _workbook_rows(path: Path):
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, ValueError, OSError) as exc:
        raise UploadRefused("无法打开文件：请确认是 Excel 或 WPS 保存的 .xlsx/.xls 文件") from exc
    result = []
    for name in workbook.sheet_names:
        try:
            sheet = workbook.get_sheet_by_name(name)
        except CalamineError:
            continue
        try:
            merged = sheet.merged_cell_ranges
        except (AttributeError, CalamineError):
            merged = None
        result.append((name, sheet.iter_rows(), merged, sheet.height))
    return result


def _with_merged(rows, merged) -> Iterator[tuple[int, list]]:
    """Rows numbered from 1 as Excel shows them, each merged range filled with its top-left value."""
    if not merged:
        # The common big sheet: rows pass as calamine gives them (nothing below writes into a row).
        yield from enumerate(rows, start=1)
        return
    starts: dict[int, list[tuple[int, int, int]]] = {}
    for (r0, c0), (r1, c1) in merged:
        starts.setdefault(r0, []).append((c0, r1, c1))
    active: dict[int, tuple[int, object]] = {}
    for index, row in enumerate(rows):
        row = list(row)
        for c0, r1, c1 in starts.get(index, ()):
            value = row[c0] if c0 < len(row) else None
            for col in range(c0, c1 + 1):
                active[col] = (r1, value)
        if active:
            if len(row) < max(active) + 1:
                row.extend([None] * (max(active) + 1 - len(row)))
            for col, (end, value) in list(active.items()):
                if index > end:
                    del active[col]
                else:
                    row[col] = value
        yield index + 1, row


def _is_blank(row) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def _parse_sheet(name: str, rows, merged, kind: str) -> Sheet | None:
    spec = KINDS[kind]
    required = set(spec["required"])
    if kind == "registrations":
        required = {"registered"}
    sheet = Sheet(name=name)
    numbered = check_rows(_with_merged(rows, merged), name)
    for row_no, row in numbered:
        if _is_blank(row):
            continue
        columns, headers = {}, {}
        for col, cell in enumerate(row):
            key = key_for(cell, kind) if isinstance(cell, str) else None
            if key and key not in columns:
                columns[key] = col
                headers[key] = str(cell).strip()
        if required <= set(columns) and len(columns) >= 2:
            if kind == "registrations" and not ({"county", "town"} & set(columns)):
                continue
            sheet.header_row, sheet.columns, sheet.headers = row_no, columns, headers
            break
        texts = [str(c).strip() for c in row if c not in (None, "")]
        if not sheet.title and texts:
            sheet.title = texts[0]
        else:
            sheet.meta.extend(texts)
        if row_no >= HEADER_SEARCH_ROWS:
            return None
    else:
        return None
    sheet.rows = _data_rows(sheet, numbered, spec)
    return sheet


def _data_rows(sheet: Sheet, numbered, spec) -> Iterator[tuple[int, dict]]:
    # One pass a row, written for 100,000 rows: no helper call per cell.
    header_norms = {norm_header(h) for h in sheet.headers.values()}
    normed: dict[str, str] = {}  # norm_header of the few values the first columns take
    repeat_keys = list(sheet.columns)[:3]
    keys = list(sheet.columns)
    cols = list(sheet.columns.values())
    width = max(cols) + 1
    pick = itemgetter(*cols) if len(cols) > 1 else (lambda row: (row[cols[0]],))
    required = spec["required"]
    named = ("head_name", "member_name", "town", "village", "county")
    # The columns of which one must be filled for a row to be data (the required ones and the names).
    content = list(dict.fromkeys(k for k in (*required, *named) if k in sheet.columns))
    fill_down = [k for k in spec["fill_down"] if k in sheet.columns]
    main = fill_down[0] if fill_down else None
    carried: dict[str, object] = {}
    for row_no, row in numbered:
        first = None
        blank = True
        for cell in row:
            if cell is None:
                continue
            if cell.__class__ is str:
                if first is None and cell != "":
                    first = cell.strip()
                if blank and cell.strip():
                    blank = False
            else:
                if first is None:
                    first = str(cell).strip()
                blank = False
            if not blank and first is not None:
                break
        if blank:
            continue
        if _TRAILER.match(first.replace(" ", "")):
            continue
        # A signature line ("填表人：…" in any cell): one search over the row's text cells, not one match a cell,
        # and only when a signature word is there at all (a substring test in C, where the pattern, which may
        # start at any NUL, would try every position).
        joined = "\x00".join([cell for cell in row if cell.__class__ is str])
        if any(word in joined for word in _SIGNATURE) and _SIGNATURE_ANY.search(joined):
            continue
        if len(row) < width:
            row = [*row, *[None] * (width - len(row))]
        # One comprehension over the row's cells of our columns, picked in C: text trimmed (full-width spaces
        # too), whole floats as ints (a phone or a 户编号 typed as a number), the rest as read.
        values = {
            key: (
                (value.replace("\u3000", " ").strip() if "\u3000" in value else value.strip())
                if value.__class__ is str
                else int(value)
                if value.__class__ is float and value.is_integer() and abs(value) < 1e15
                else value
            )
            for key, value in zip(keys, pick(row), strict=True)
        }
        repeats = 0
        for key in repeat_keys:
            value = values[key]
            if value.__class__ is str:
                norm = normed.get(value)
                if norm is None:
                    norm = norm_header(value)
                    if len(normed) < 10_000:
                        normed[value] = norm
                if norm in header_norms:
                    repeats += 1
        if repeats >= 2:
            continue  # the header repeated (printed on every page)
        for key in content:
            if values[key] not in (None, ""):
                break
        else:
            continue  # a row with only a 序号 or a stray note
        if main is not None:
            if values.get(main) in (None, ""):
                for key in fill_down:
                    if values.get(key) in (None, ""):
                        values[key] = carried.get(key)
            else:
                carried = {key: values.get(key) for key in fill_down}
        yield row_no, values
