"""Column headers of every kind of sheet, and the spellings clerks use for them — in this one place.

Headers are compared after ``norm_header``: spaces dropped, full-width parentheses and colons made
half-width, so "村（社区）", "村(社区)" and " 村 ( 社区 ) " are one header.
"""

import re

_TRANS = str.maketrans({"（": "(", "）": ")", "：": ":", "\u3000": " "})
_SPACES = re.compile(r"\s+")


def norm_header(value) -> str:
    if value is None:
        return ""
    text = str(value).replace("\ufeff", "").translate(_TRANS)
    text = _SPACES.sub("", text)
    return text.rstrip(":*").strip()


# key → the canonical header first, then the synonyms. "phone" is the generic 联系电话 of a one-person sheet.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "seq": ("序号", "编号", "序"),
    "county": ("县（市、区）", "县(市区)", "县市区", "县区", "县", "县（区）", "区县", "单位", "地区"),
    "town": ("镇（街道）", "乡镇（街道）", "乡镇", "镇", "街道", "镇街", "乡（镇）", "乡镇(街道)名称", "所属乡镇"),
    "village": ("村（社区）", "村", "社区", "村（居）", "村居", "行政村", "村（社区）名称", "所属村（社区）", "村名"),
    "grid": ("网格", "网格名称", "所属网格", "网格号"),
    "member_name": ("党员姓名", "包联党员", "包联党员姓名", "党员", "责任人", "责任人姓名"),
    "member_phone": ("党员联系电话", "党员电话", "党员手机号码", "党员手机号", "责任人电话", "责任人联系电话"),
    "organization": ("所在党组织", "党组织", "所属党组织", "党支部", "所在党支部", "党组织名称"),
    "head_name": ("户主姓名", "户主", "户主名"),
    "head_phone": ("户主联系电话", "户主电话", "户主手机号码", "户主手机号"),
    "phone": ("联系电话", "电话", "手机号码", "手机号", "手机", "电话号码", "联系方式"),
    "name": ("姓名",),
    "address": ("家庭住址", "住址", "地址", "家庭地址", "详细地址"),
    "size": ("家庭人口", "家庭人口数", "人口", "人口数", "家庭成员数", "户人口"),
    "note": ("备注", "说明"),
    "household_id": ("户编号",),
    "member_id": ("党员编号",),
    "elderly_alone": ("独居老人",),
    "left_behind": ("留守老人/儿童", "留守"),
    "student_family": ("学生家庭",),
    "no_smartphone": ("无智能手机",),
    "is_active": ("在岗",),
    "population": ("常住人口", "常住人口数", "人口（2020年普查）"),
    "registered": ("安装注册人数", "注册人数", "安装注册数", "已注册人数", "App注册人数"),
    "verified": ("实名用户数", "实名人数", "实名注册人数", "实名数"),
    # Export-only progress columns: recognised so a round trip ignores them instead of complaining.
    "visited": ("已走访",),
    "last_visit": ("最近走访日期",),
    "signed": ("已签承诺书",),
    "app_registered": ("App已注册",),
    "registration_rate": ("注册率",),
    "verification_rate": ("实名率",),
}

HEADER_OF = {key: spellings[0] for key, spellings in SYNONYMS.items()}

# Which keys each kind reads, which it needs, and how a generic 联系电话/姓名 is meant.
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
        ],
        "required": ["village", "member_name", "head_name"],
        "aliases": {"phone": "head_phone", "name": "head_name"},
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
        ],
        "required": ["village", "head_name"],
        "aliases": {"phone": "head_phone", "name": "head_name"},
        "fill_down": [],
    },
    "members": {
        "label": "党员名册",
        "keys": ["seq", "member_id", "member_name", "member_phone", "organization", "town", "village", "is_active"],
        "required": ["member_name", "organization"],
        "aliases": {"phone": "member_phone", "name": "member_name"},
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
        ],
        "required": ["registered", "verified"],
        "aliases": {},
        "fill_down": [],
    },
}

# Export columns per kind, in order (the import reads the same headers back).
EXPORT_COLUMNS = {
    # The 责任分工表 goes back out in exactly the columns it is read in (round trip).
    "responsibility": list(KINDS["responsibility"]["keys"]),
    "households": [
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
    ],
    "members": ["member_id", "member_name", "member_phone", "organization", "town", "village", "is_active"],
    "registrations": [
        "county",
        "town",
        "population",
        "registered",
        "verified",
        "registration_rate",
        "verification_rate",
    ],
}

_LOOKUP: dict[str, str] = {}
for _key, _spellings in SYNONYMS.items():
    for _spelling in _spellings:
        _LOOKUP.setdefault(norm_header(_spelling), _key)


def key_for(header, kind: str) -> str | None:
    """The field key a header means in a sheet of ``kind``, or None for a column we don't read."""
    key = _LOOKUP.get(norm_header(header))
    if key is None:
        return None
    spec = KINDS[kind]
    key = spec["aliases"].get(key, key)
    return key if key in spec["keys"] else None


def header(key: str) -> str:
    return HEADER_OF[key]
