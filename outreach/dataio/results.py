"""What an import found: messages naming sheet, row and column, and the counts of what a check would do."""

from dataclasses import dataclass, field


@dataclass
class RowError:
    """One message about a sheet: a row's cell, a whole sheet (row 0), or many rows saying the same (``rows``)."""

    sheet: str
    row: int
    column: str
    message: str
    rows: tuple[int, ...] = ()

    @property
    def count(self) -> int:
        return len(self.rows) or 1

    @property
    def span(self) -> str:
        """The rows as Excel shows them: "第3–110行" or "第3–5、9行"; "" for a one-row message."""
        if not self.rows:
            return f"第{self.row}行" if self.row else ""
        runs, start, prev = [], self.rows[0], self.rows[0]
        for row in (*self.rows[1:], None):
            if row is not None and row == prev + 1:
                prev = row
                continue
            runs.append(str(start) if start == prev else f"{start}–{prev}")
            if row is not None:
                start = prev = row
        return f"第{'、'.join(runs)}行"

    def as_dict(self) -> dict:
        data = {"sheet": self.sheet, "row": self.row, "column": self.column, "message": self.message}
        if self.rows:
            data.update(rows=self.span, count=self.count)
        return data

    def __str__(self):
        where = " ".join(part for part in (self.sheet, self.span) if part)
        if self.rows:
            where += f"（共{self.count}行）"
        text = f"{where} {self.column}".strip()
        return f"{text}：{self.message}" if text else self.message


REPEATS = 3


def collapse_repeats(errors: list[RowError], least: int = REPEATS) -> list[RowError]:
    """Errors saying the same thing in the same column of a sheet for ``least`` or more rows become one, in place."""

    def key(error):
        return (error.sheet, error.column, error.message)

    groups: dict[tuple, list[RowError]] = {}
    for error in errors:
        if error.row:
            groups.setdefault(key(error), []).append(error)
    result, done = [], set()
    for error in errors:
        group = groups.get(key(error)) if error.row else None
        if group is None or len(group) < least:
            result.append(error)
        elif key(error) not in done:
            done.add(key(error))
            rows = tuple(sorted({row for e in group for row in (e.rows or (e.row,))}))
            result.append(RowError(error.sheet, rows[0], error.column, error.message, rows=rows))
    return result


# What a job row keeps of the file: enough to show the clerk, never a copy of the data.
PREVIEW_VALUE_CHARS = 60
ERROR_MESSAGE_CHARS = 200
MAX_ERRORS = 2000


def _shorten(text, limit: int):
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class ImportResult:
    """The one account of an import: filled by the importer while it checks and writes, returned by
    ``services.import_file``, stored on the job (``job_fields``) and handed to django-import-export's callers
    (``library_result``). ``village_ids``/``organization_ids``/``county_ids``/``dates`` are what the write touched."""

    kind: str = ""
    file_name: str = ""
    county: str = ""
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0
    preview: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False
    village_ids: set = field(default_factory=set)
    organization_ids: set = field(default_factory=set)
    county_ids: set = field(default_factory=set)
    dates: set = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors

    def finish_errors(self, lead: RowError | None = None) -> None:
        """The errors as shown: a file-wide message first, repeats collapsed, at most ``MAX_ERRORS``; a file with
        errors counts no row as new, updated or unchanged (nothing will be written)."""
        errors = collapse_repeats(([lead] if lead else []) + self.errors)
        self.errors, self.more_errors = errors[:MAX_ERRORS], max(len(errors) - MAX_ERRORS, 0)
        if self.errors:
            self.new = self.updated = self.unchanged = 0

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "file": self.file_name,
            "county": self.county,
            "rows": self.rows,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "written": self.written,
            "dry_run": self.dry_run,
            "notes": self.notes,
            "errors": [e.as_dict() for e in self.errors],
            "more_errors": self.more_errors,
        }

    def job_fields(self) -> dict:
        """What an ``ImportJob`` row keeps: counts, shortened errors, the preview's first rows and notes."""
        return {
            "rows": self.rows,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [
                {k: _shorten(v, ERROR_MESSAGE_CHARS) if isinstance(v, str) else v for k, v in e.as_dict().items()}
                for e in self.errors
            ],
            "preview": {
                "rows": [
                    {**row, "values": {k: _shorten(v, PREVIEW_VALUE_CHARS) for k, v in row.get("values", {}).items()}}
                    for row in self.preview
                ],
                "notes": [_shorten(n, ERROR_MESSAGE_CHARS) for n in self.notes],
                "county": self.county,
            },
            "message": _shorten("；".join(self.notes), ERROR_MESSAGE_CHARS * 2),
        }

    def library_result(self, headers=()):
        """The same account as django-import-export's ``Result`` (totals and row errors), for its API's callers."""
        from import_export.results import Error, Result, RowResult

        result = Result()
        result.diff_headers = list(headers)
        result.totals[RowResult.IMPORT_TYPE_NEW] = self.new
        result.totals[RowResult.IMPORT_TYPE_UPDATE] = self.updated
        result.totals[RowResult.IMPORT_TYPE_SKIP] = self.unchanged
        result.total_rows = self.rows
        for error in self.errors:
            result.append_base_error(Error(ValueError(str(error)), number=error.row))
        return result
