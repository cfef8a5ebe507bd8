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


@dataclass
class Outcome:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    village_ids: set = field(default_factory=set)
    county_ids: set = field(default_factory=set)
    dates: set = field(default_factory=set)
