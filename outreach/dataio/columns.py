"""Every column of every kind of sheet, declared once: its header, the spellings clerks use, how a cell is
cleaned on import and how it is typed on export (in the spirit of pretix's ``ImportColumn``).

Headers are compared after ``norm_header``: spaces dropped, full-width parentheses and colons made half-width,
so "村（社区）", "村(社区)" and " 村 ( 社区 ) " are one header. A kind lists its columns in sheet order; the
same list is what its export writes (less the ``import_only`` ones) and what its import reads back, so a
round trip can never meet a header the other side does not know.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from outreach.dataio.cells import _bool, _date, _id, _int, choice, phone
from outreach.lib import xlsx
from outreach.people.models import HouseholdEndReason, MemberLeftReason

_TRANS = str.maketrans({"（": "(", "）": ")", "：": ":", "\u3000": " "})
_SPACES = re.compile(r"\s+")


def norm_header(value) -> str:
    if value is None:
        return ""
    text = str(value).replace("\ufeff", "").translate(_TRANS)
    text = _SPACES.sub("", text)
    return text.rstrip(":*").strip()


def _size(value):
    return _int(value, 1, 50)


def _count(value):
    return _int(value, 0, 100_000_000)


@dataclass(frozen=True)
class Column:
    """One column: ``header`` first, then ``synonyms``; ``clean`` turns a cell into (value, message), None keeps
    the cell as text; ``export`` is how the cell is written (``outreach.lib.xlsx.Column`` options)."""

    key: str
    header: str
    synonyms: tuple[str, ...] = ()
    clean: Callable | None = None
    export: dict = field(default_factory=lambda: {"kind": "text"})

    def xlsx_column(self) -> xlsx.Column:
        return xlsx.Column(self.header, **self.export)


_NUMBER = {"kind": "number"}
_THOUSANDS = {"kind": "number", "num_format": "#,##0"}

# "phone" and "name" are the generic 联系电话 / 姓名 of a one-person sheet: each kind says whose they are.
COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("seq", "序号", ("编号", "序"), export=_NUMBER),
        Column("county", "县（市、区）", ("县(市区)", "县市区", "县区", "县", "县（区）", "区县", "单位", "地区")),
        Column(
            "town",
            "镇（街道）",
            ("乡镇（街道）", "乡镇", "镇", "街道", "镇街", "乡（镇）", "乡镇(街道)名称", "所属乡镇"),
        ),
        Column(
            "village",
            "村（社区）",
            ("村", "社区", "村（居）", "村居", "行政村", "村（社区）名称", "所属村（社区）", "村名"),
        ),
        Column("grid", "网格", ("网格名称", "所属网格", "网格号")),
        Column("member_name", "党员姓名", ("包联党员", "包联党员姓名", "党员", "责任人", "责任人姓名")),
        Column(
            "member_phone",
            "党员联系电话",
            ("党员电话", "党员手机号码", "党员手机号", "责任人电话", "责任人联系电话"),
            clean=phone,
        ),
        Column("organization", "所在党组织", ("党组织", "所属党组织", "党支部", "所在党支部", "党组织名称")),
        Column("head_name", "户主姓名", ("户主", "户主名")),
        Column("head_phone", "户主联系电话", ("户主电话", "户主手机号码", "户主手机号"), clean=phone),
        Column("phone", "联系电话", ("电话", "手机号码", "手机号", "手机", "电话号码", "联系方式"), clean=phone),
        Column("name", "姓名"),
        Column("address", "家庭住址", ("住址", "地址", "家庭地址", "详细地址")),
        Column(
            "size", "家庭人口", ("家庭人口数", "人口", "人口数", "家庭成员数", "户人口"), clean=_size, export=_NUMBER
        ),
        Column("note", "备注", ("说明",)),
        Column("household_id", "户编号", clean=_id, export=_NUMBER),
        Column("member_id", "党员编号", clean=_id, export=_NUMBER),
        Column("elderly_alone", "独居老人", clean=_bool),
        Column("left_behind", "留守老人/儿童", ("留守",), clean=_bool),
        Column("student_family", "学生家庭", clean=_bool),
        Column("no_smartphone", "无智能手机", clean=_bool),
        Column("is_active", "在岗", clean=_bool),
        Column("roster_start", "列入花名册日期", ("列入日期", "登记日期"), clean=_date, export={"kind": "date"}),
        Column(
            "roster_end", "移出花名册日期", ("移出日期", "注销日期", "迁出日期"), clean=_date, export={"kind": "date"}
        ),
        Column("end_reason", "移出原因", ("注销原因", "迁出原因"), clean=choice(HouseholdEndReason)),
        Column("joined_on", "列入名册日期", ("入册日期",), clean=_date, export={"kind": "date"}),
        Column("left_on", "离开日期", ("调离日期", "转出日期"), clean=_date, export={"kind": "date"}),
        Column("left_reason", "离开原因", ("调离原因", "转出原因"), clean=choice(MemberLeftReason)),
        # Read, never written: why a row back-dates a roster date (a correction of figures already shown).
        Column("correction_reason", "更正原因", ("更正说明",)),
        Column("population", "常住人口", ("常住人口数", "人口（2020年普查）"), clean=_count, export=_THOUSANDS),
        Column(
            "registered",
            "安装注册人数",
            ("注册人数", "安装注册数", "已注册人数", "App注册人数"),
            clean=_count,
            export=_THOUSANDS,
        ),
        Column("verified", "实名用户数", ("实名人数", "实名注册人数", "实名数"), clean=_count, export=_THOUSANDS),
        # Export-only progress columns: recognised so a round trip ignores them instead of complaining.
        Column("visited", "已走访"),
        Column("last_visit", "最近走访日期", export={"kind": "date"}),
        Column("signed", "已签承诺书"),
        Column("app_registered", "App已注册"),
        Column("registration_rate", "注册率", export={"kind": "percent"}),
        Column("population_source", "常住人口口径", ("人口口径", "分母")),
        Column("verification_rate", "实名率", export={"kind": "percent"}),
    )
}

# Which columns each kind has (sheet order), which it needs, how a generic 联系电话/姓名 is meant, which
# columns are read but never written, and which a blank cell takes from the row above.
KINDS: dict[str, dict] = {
    "responsibility": {
        "label": "党员包联入户责任分工表",
        "keys": [
            "seq",
            "town",
            "village",
            "grid",
            "member_name",
            "member_phone",
            "organization",
            "head_name",
            "head_phone",
            "address",
            "size",
            "note",
            "household_id",
            "member_id",
            "visited",
            "last_visit",
            "signed",
            "app_registered",
        ],  # fmt: skip
        "required": ["village", "member_name", "head_name"],
        "aliases": {"phone": "head_phone", "name": "head_name"},
        # The 责任分工表 goes back out in exactly the columns it is read in (round trip), 序号 included.
        "import_only": [],
        "fill_down": ["member_name", "member_phone", "organization", "member_id"],
    },
    "households": {
        "label": "住户花名册",
        "keys": [
            "seq",
            "household_id",
            "town",
            "village",
            "grid",
            "head_name",
            "head_phone",
            "address",
            "size",
            "elderly_alone",
            "left_behind",
            "student_family",
            "no_smartphone",
            "note",
            "roster_start",
            "roster_end",
            "end_reason",
            "correction_reason",
        ],  # fmt: skip
        "required": ["village", "head_name"],
        "aliases": {"phone": "head_phone", "name": "head_name"},
        "import_only": ["seq", "correction_reason"],
        "fill_down": [],
    },
    "members": {
        "label": "党员名册",
        "keys": [
            "seq",
            "member_id",
            "member_name",
            "member_phone",
            "organization",
            "town",
            "village",
            "is_active",
            "joined_on",
            "left_on",
            "left_reason",
            "correction_reason",
        ],  # fmt: skip
        "required": ["member_name", "organization"],
        "aliases": {"phone": "member_phone", "name": "member_name"},
        "import_only": ["seq", "correction_reason"],
        "fill_down": ["organization"],
    },
    "registrations": {
        "label": "国家反诈中心App注册通报",
        "keys": [
            "seq",
            "county",
            "town",
            "population",
            "registered",
            "verified",
            "registration_rate",
            "verification_rate",
            "population_source",
        ],  # fmt: skip
        "required": ["registered", "verified"],
        "aliases": {},
        "import_only": ["seq"],
        "fill_down": [],
    },
}

# Export columns per kind, in order: the kind's columns less those only read.
EXPORT_COLUMNS = {kind: [k for k in spec["keys"] if k not in spec["import_only"]] for kind, spec in KINDS.items()}

_LOOKUP: dict[str, str] = {}
for _column in COLUMNS.values():
    for _spelling in (_column.header, *_column.synonyms):
        _LOOKUP.setdefault(norm_header(_spelling), _column.key)


def key_for(header, kind: str) -> str | None:
    """The field key a header means in a sheet of ``kind``, or None for a column we don't read."""
    key = _LOOKUP.get(norm_header(header))
    if key is None:
        return None
    spec = KINDS[kind]
    key = spec["aliases"].get(key, key)
    return key if key in spec["keys"] else None


def header(key: str) -> str:
    return COLUMNS[key].header


def clean(key: str, value):
    """(value, message) of a cell of column ``key``; a column without a cleaner keeps the cell."""
    cleaner = COLUMNS[key].clean
    return cleaner(value) if cleaner else (value, "")


def export_columns(keys: Iterable[str]) -> list[xlsx.Column]:
    return [COLUMNS[k].xlsx_column() for k in keys]
