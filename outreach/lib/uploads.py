"""What an uploaded spreadsheet must pass before anything opens it, for every import (tables and users).

Refused: the wrong type, too big, a zip whose members (each and all together) inflate past what a real
100,000-row sheet needs or at a ratio no real sheet has (a zip bomb: sizes are read from the zip
directory, nothing is unpacked), XML with a DOCTYPE or ENTITY (entity bombs), and, while rows are read,
any cell longer than a clerk ever types (``check_cell``), named by sheet, row and column.
"""

import tempfile
import time
import zipfile
from pathlib import Path

from django.conf import settings
from import_export.tmp_storages import TempFolderStorage

ALLOWED_EXTENSIONS = (".xlsx", ".xls", ".csv")
# Members smaller than this are never judged by their ratio (tiny XML parts compress very well).
_RATIO_FLOOR_BYTES = 1024 * 1024


class UploadRefused(Exception):
    """A file we will not open, with a message for the clerk."""


def check_upload(source, file_name: str, size: int | None = None) -> None:
    """Raise ``UploadRefused`` for a file that is too big, of the wrong type, or a zip/XML bomb.

    ``source`` is a path or an open binary file (an uploaded file before it is stored).
    """
    suffix = Path(file_name).suffix.lower()
    if suffix not in ALLOWED_EXTENSIONS:
        raise UploadRefused("只能导入 .xlsx、.xls 或 .csv 文件")
    if size is None:
        size = Path(source).stat().st_size
    limit = settings.DATAIO_MAX_UPLOAD_MB * 1024 * 1024
    if size > limit:
        raise UploadRefused(f"文件太大（{size / 1024 / 1024:.1f} MB），最大 {settings.DATAIO_MAX_UPLOAD_MB} MB")
    if size == 0:
        raise UploadRefused("文件是空的")
    if suffix == ".xlsx":
        _check_zip(source)


def _check_zip(source, advice: str = "正常的表格请另存为新的 .xlsx 后再导入", kind: str = ".xlsx") -> None:
    max_total = settings.DATAIO_MAX_UNCOMPRESSED_MB * 1024 * 1024
    max_ratio = settings.DATAIO_MAX_ZIP_RATIO
    max_shared = settings.DATAIO_MAX_SHARED_STRINGS_MB * 1024 * 1024
    bomb = "文件解压后过大（{detail}），疑似压缩炸弹，已拒绝；" + advice
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            if len(infos) > 10_000:
                raise UploadRefused(bomb.format(detail=f"{len(infos)} 个部件"))
            total = 0
            for info in infos:
                total += info.file_size
                if info.file_size > max_total or total > max_total:
                    raise UploadRefused(bomb.format(detail=f"超过 {settings.DATAIO_MAX_UNCOMPRESSED_MB} MB"))
                if info.filename.lower().endswith("sharedstrings.xml") and info.file_size > max_shared:
                    raise UploadRefused(
                        bomb.format(detail=f"共享字符串超过 {settings.DATAIO_MAX_SHARED_STRINGS_MB} MB")
                    )
                ratio = info.file_size / max(info.compress_size, 1)
                if info.file_size >= _RATIO_FLOOR_BYTES and ratio > max_ratio:
                    raise UploadRefused(bomb.format(detail=f"{info.filename} 压缩比 {ratio:.0f}:1"))
            for info in infos:
                if info.filename.endswith((".xml", ".rels")):
                    with archive.open(info) as member:
                        head = member.read(2048).upper()
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        raise UploadRefused("文件含有不安全的 XML 内容（DOCTYPE/ENTITY），已拒绝")
    except zipfile.BadZipFile as exc:
        raise UploadRefused(f"文件不是有效的 {kind} 文件（可能已损坏，或是改了扩展名的其他文件）") from exc
    finally:
        if hasattr(source, "seek"):
            source.seek(0)


# An attachment (a 督办单's 整改措施): the extension names what the first bytes must be.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ATTACHMENT_SIGNATURES = {
    ".pdf": (b"%PDF-",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".doc": (_OLE,),
    ".xls": (_OLE,),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
}
ATTACHMENT_TYPES_TEXT = "PDF、Word（.doc、.docx）、Excel（.xls、.xlsx）或 JPG、PNG 图片"


def check_attachment(source, file_name: str, size: int) -> None:
    """Raise ``UploadRefused`` for an attachment of the wrong type (by extension and by its first bytes),
    empty, larger than ``SUPERVISION_MAX_ATTACHMENT_MB``, or an Office file that is a zip or XML bomb.

    ``source`` is an open binary file (an uploaded file before it is stored); it is rewound.
    """
    suffix = Path(file_name).suffix.lower()
    if suffix not in ATTACHMENT_SIGNATURES:
        raise UploadRefused(f"附件只能是{ATTACHMENT_TYPES_TEXT}")
    if not size:
        raise UploadRefused("附件是空的")
    limit_mb = settings.SUPERVISION_MAX_ATTACHMENT_MB
    if size > limit_mb * 1024 * 1024:
        raise UploadRefused(f"附件太大（{size / 1024 / 1024:.1f} MB），最大 {limit_mb} MB")
    source.seek(0)
    head = source.read(16)
    source.seek(0)
    if not head.startswith(ATTACHMENT_SIGNATURES[suffix]):
        raise UploadRefused(f"附件的内容不是 {suffix} 文件（可能已损坏，或是改了扩展名的其他文件），已拒绝")
    if suffix in (".docx", ".xlsx"):
        _check_zip(source, advice="请另存为新的文件后再上传", kind=suffix)


def column_letter(index: int) -> str:
    """Excel's name of the 0-based column ``index`` (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def check_cell(value, sheet: str, row: int, col: int) -> None:
    """Refuse the file at the first cell longer than ``DATAIO_MAX_CELL_CHARS`` (no clerk types that)."""
    if isinstance(value, str) and len(value) > settings.DATAIO_MAX_CELL_CHARS:
        raise UploadRefused(
            f"工作表“{sheet}”第{row}行{column_letter(col)}列的内容有{len(value):,}个字符，超过了"
            f"{settings.DATAIO_MAX_CELL_CHARS:,}个字符的上限：请检查这个单元格，文件没有导入"
        )


def check_rows(rows, sheet: str):
    """``rows`` (numbered from 1, as Excel shows them) passed through ``check_cell``, lazily."""
    limit = settings.DATAIO_MAX_CELL_CHARS
    for row_no, row in rows:
        for col, value in enumerate(row):
            if isinstance(value, str) and len(value) > limit:
                check_cell(value, sheet, row_no, col)
        yield row_no, row


class GuardedTempStorage(TempFolderStorage):
    """django-import-export's temporary file between preview and confirm, kept under ``DATAIO_DIR``.

    The files are readable by this program only (mode 0600), named by the library (a random name; the
    confirm form's name is reduced to a base name), and ``sweep`` deletes those older than
    ``DATAIO_ABANDONED_HOURS`` (previews nobody confirmed).
    """

    @staticmethod
    def folder() -> Path:
        folder = Path(settings.DATAIO_DIR) / "import_export"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return folder

    def get_full_path(self):
        return str(self.folder() / Path(self.name).name)

    def _open(self, mode="r"):
        if self.name:
            return open(self.get_full_path(), mode, encoding=self.encoding)
        handle = tempfile.NamedTemporaryFile(dir=self.folder(), prefix="import-", delete=False)
        self.name = Path(handle.name).name
        return handle

    def remove(self):
        Path(self.get_full_path()).unlink(missing_ok=True)

    @classmethod
    def sweep(cls, max_age_hours: float | None = None) -> int:
        """Delete temporary import files older than ``max_age_hours``; returns how many went."""
        hours = settings.DATAIO_ABANDONED_HOURS if max_age_hours is None else max_age_hours
        cutoff = time.time() - hours * 3600
        removed = 0
        for path in cls.folder().glob("import-*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
