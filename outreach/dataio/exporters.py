"""Exports as .xlsx in the layout clerks use, streamed with bounded memory.

Rows come from ``values_list().iterator()`` of a scoped queryset and go straight into xlsxwriter in
``constant_memory`` mode, so 100,000 rows never sit in memory. Every string passes ``safe_cell`` (no live
formulas) and every phone ``display_phone`` (masked unless the user's role calls households). The
round-trip kinds carry 户编号/党员编号 so an edited sheet imports back in place.
"""

import datetime as dt
from pathlib import Path

import xlsxwriter
from django.db.models import IntegerField, Max, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from outreach.accounts.models import AccessLog
from outreach.accounts.privacy import display_phone
from outreach.accounts.services import record_access
from outreach.campaigns.models import Assignment
from outreach.dataio import permissions
from outreach.dataio.headers import EXPORT_COLUMNS, KINDS, header
from outreach.dataio.importers import pick_campaign, scoped
from outreach.lib.cells import safe_cell
from outreach.people.models import Household, PartyMember
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import Visit

EXPORT_KINDS = {
    "responsibility": "党员包联入户责任分工表",
    "households": "住户花名册",
    "members": "党员名册",
    "registrations": "国家反诈中心App注册通报",
    "visits": "走访记录",
}

VISIT_HEADERS = [
    "走访时间", "镇（街道）", "村（社区）", "网格", "户主姓名", "户编号", "走访党员", "党员编号",
    "真入户", "真人见", "真讲解", "真签名", "有效走访", "现场安装App人数", "现场注册人数", "现场实名人数", "备注",
]  # fmt: skip


def _yes(value) -> str:
    return "是" if value else "否"


class _Book:
    """An xlsxwriter workbook in constant-memory mode with one format set; sheets written row by row."""

    def __init__(self, path: Path):
        self.book = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
        )
        self.title_fmt = self.book.add_format({"bold": True, "font_size": 14})
        self.head_fmt = self.book.add_format({"bold": True, "border": 1, "bg_color": "#DDEBF7", "text_wrap": True})
        self.rows = 0
        self.names: set[str] = set()

    def sheet(self, name: str, title: str, headers: list[str]):
        name = (name or "Sheet")[:31]
        for bad in "[]:*?/\\":
            name = name.replace(bad, "_")
        base, n = name, 2
        while name in self.names:
            name, n = f"{base[:28]}_{n}", n + 1
        self.names.add(name)
        ws = self.book.add_worksheet(name)
        ws.write_string(0, 0, safe_cell(title), self.title_fmt)
        for col, text in enumerate(headers):
            ws.write_string(1, col, text, self.head_fmt)
            ws.set_column(col, col, max(8, min(len(text) * 2 + 2, 30)))
        ws.freeze_panes(2, 0)
        return _Sheet(self, ws)

    def close(self):
        self.book.close()


class _Sheet:
    def __init__(self, book: _Book, ws):
        self.book, self.ws, self.row = book, ws, 2

    def write(self, values):
        ws, row = self.ws, self.row
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                ws.write_string(row, col, safe_cell(value))
            elif isinstance(value, bool):
                ws.write_string(row, col, _yes(value))
            elif isinstance(value, dt.datetime):
                ws.write_string(row, col, timezone.localtime(value).strftime("%Y-%m-%d %H:%M"))
            elif isinstance(value, dt.date):
                ws.write_string(row, col, value.isoformat())
            else:
                ws.write_number(row, col, value)
        self.row += 1
        self.book.rows += 1


def _progress_of(campaign, county=None) -> dict[int, tuple]:
    """household id → (last visit time, signed, registered on the spot) for the campaign, in one query."""
    visits = Visit.objects.filter(campaign=campaign)
    if county is not None:
        visits = visits.filter(county=county)
    rows = visits.values("household_id").annotate(
        last=Max("visited_at"), signed=Max(Cast("signed", IntegerField())), registered=Sum("app_registered")
    )
    return {r["household_id"]: (r["last"], r["signed"], r["registered"]) for r in rows.iterator(chunk_size=5000)}


def export_responsibility(book: _Book, user, county=None, campaign=None, town=None, progress=None, **_):
    campaign = campaign or pick_campaign(county=county)
    qs = Assignment.objects.filter(campaign=campaign) if campaign else Assignment.objects.none()
    if county is not None:
        qs = qs.filter(household__county=county)
    if town is not None:
        qs = qs.filter(household__town=town)
    qs = scoped(user, qs)
    progress_by_household = _progress_of(campaign, county) if campaign else {}
    cols = EXPORT_COLUMNS["responsibility"]
    headers = [header(k) for k in cols]
    rows = qs.order_by("household__town__code", "household__village__code", "member_id", "household_id").values_list(
        "household__county__name",
        "household__town__name",
        "household__village__short_name",
        "household__grid__name",
        "member__name",
        "member__phone",
        "member__organization__name",
        "household__head_name",
        "household__phone",
        "household__address",
        "household__size",
        "household__note",
        "household_id",
        "member_id",
    )
    current_town, sheet, seq = None, None, 0
    for row in rows.iterator(chunk_size=5000):
        county_name, town_name = row[0], row[1]
        if town_name != current_town:
            current_town, seq = town_name, 0
            title = f"{county_name}“{campaign.name}”党员包联入户责任分工表（{town_name}）"
            sheet = book.sheet(town_name, title, headers)
        seq += 1
        last, signed, registered = progress_by_household.get(row[12], (None, 0, 0))
        sheet.write(
            [
                seq,
                town_name,
                row[2],
                row[3],
                row[4],
                display_phone(user, row[5]),
                row[6],
                row[7],
                display_phone(user, row[8]),
                row[9],
                row[10],
                row[11],
                row[12],
                row[13],
                _yes(last is not None),
                timezone.localtime(last).date() if last else None,
                _yes(signed),
                _yes(registered),
            ]
        )
        if progress and book.rows % 10000 == 0:
            progress(book.rows)
    if sheet is None:
        book.sheet("责任分工表", f"“{campaign.name if campaign else ''}”党员包联入户责任分工表", headers)


def export_households(book: _Book, user, county=None, town=None, progress=None, **_):
    qs = Household.objects.all()
    if county is not None:
        qs = qs.filter(county=county)
    if town is not None:
        qs = qs.filter(town=town)
    qs = scoped(user, qs).order_by("town__code", "village__code", "id")
    cols = EXPORT_COLUMNS["households"]
    title = f"{county.name if county else ''}住户花名册"
    sheet = book.sheet("住户花名册", title, [header(k) for k in cols])
    for row in qs.values_list(
        "pk", "town__name", "village__short_name", "grid__name", "head_name", "phone", "address", "size",
        "elderly_alone", "left_behind", "student_family", "no_smartphone", "note",
    ).iterator(chunk_size=5000):  # fmt: skip
        row = list(row)
        row[5] = display_phone(user, row[5])
        sheet.write(row)
        if progress and book.rows % 10000 == 0:
            progress(book.rows)


def export_members(book: _Book, user, county=None, town=None, progress=None, **_):
    qs = PartyMember.objects.all()
    if county is not None:
        qs = qs.filter(county=county)
    if town is not None:
        qs = qs.filter(organization__town=town)
    qs = scoped(user, qs).order_by("organization__name", "id")
    cols = EXPORT_COLUMNS["members"]
    sheet = book.sheet("党员名册", f"{county.name if county else ''}党员名册", [header(k) for k in cols])
    for pk, name, phone, org, town_name, village, active in qs.values_list(
        "pk", "name", "phone", "organization__name", "organization__town__name",
        "organization__village__short_name", "is_active",
    ).iterator(chunk_size=5000):  # fmt: skip
        sheet.write([pk, name, display_phone(user, phone), org, town_name, village, _yes(active)])


def export_registrations(book: _Book, user, county=None, as_of=None, **_):
    qs = scoped(user, RegistrationReport.objects.all())
    if county is not None:
        qs = qs.filter(county=county)
    if as_of is None:
        as_of = qs.order_by("-as_of").values_list("as_of", flat=True).first() or timezone.localdate()
    qs = qs.filter(as_of=as_of).order_by("county__code", "town__code")
    cols = EXPORT_COLUMNS["registrations"]
    title = f"国家反诈中心App注册情况通报（截至{as_of.year}年{as_of.month}月{as_of.day}日）"
    sheet = book.sheet("注册通报", title, [header(k) for k in cols])
    for county_name, county_pop, town_name, pop, reg, ver in qs.values_list(
        "county__name", "county__population", "town__name", "population", "registered", "verified"
    ):
        base = pop or (county_pop if not town_name else None)
        rate = f"{reg / base * 100:.2f}%" if base else ""
        vrate = f"{ver / base * 100:.2f}%" if base else ""
        sheet.write([county_name, town_name or "", pop, reg, ver, rate, vrate])


def export_visits(book: _Book, user, county=None, town=None, campaign=None, progress=None, **_):
    qs = Visit.objects.all()
    if county is not None:
        qs = qs.filter(county=county)
    if town is not None:
        qs = qs.filter(town=town)
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    qs = scoped(user, qs).order_by("visited_at", "id")
    sheet = book.sheet("走访记录", f"{county.name if county else ''}入户走访记录", VISIT_HEADERS)
    for row in qs.values_list(
        "visited_at", "town__name", "village__short_name", "grid__name", "household__head_name", "household_id",
        "visitor__name", "visitor_id", "entered", "met_person", "explained", "signed", "is_qualified",
        "app_installed", "app_registered", "app_verified", "notes",
    ).iterator(chunk_size=5000):  # fmt: skip
        sheet.write(row)
        if progress and book.rows % 10000 == 0:
            progress(book.rows)


EXPORTERS = {
    "responsibility": export_responsibility,
    "households": export_households,
    "members": export_members,
    "registrations": export_registrations,
    "visits": export_visits,
}


def export_file(
    kind: str, path: Path, *, user=None, county=None, town=None, campaign=None, as_of=None, progress=None, request=None
) -> int:
    """Write ``kind`` for ``user``'s scope (narrowed to ``county``/``town``) to ``path``; returns data rows."""
    if kind not in EXPORTERS:
        raise ValueError(f"不认识的导出类型“{kind}”，可选：{'、'.join(EXPORTERS)}")
    permissions.require(user, "export", kind, EXPORT_KINDS[kind])
    book = _Book(Path(path))
    try:
        EXPORTERS[kind](book, user, county=county, town=town, campaign=campaign, as_of=as_of, progress=progress)
    finally:
        book.close()
    scope = "".join(p.name for p in (county, town) if p is not None)
    record_access(
        user,
        AccessLog.Kind.EXPORT,
        EXPORT_KINDS[kind],
        rows=book.rows,
        filename=Path(path).name,
        detail=scope,
        request=request,
    )
    return book.rows


def write_template(kind: str, path: Path) -> None:
    """An empty sheet of ``kind`` with its title and header rows, for clerks to fill in."""
    book = _Book(Path(path))
    cols = [k for k in EXPORT_COLUMNS[kind] if k not in ("visited", "last_visit", "signed", "app_registered")]
    cols = [k for k in cols if k not in ("household_id", "member_id", "registration_rate", "verification_rate")]
    title = KINDS[kind]["label"] + ("（截至  年  月  日）" if kind == "registrations" else "")
    book.sheet(KINDS[kind]["label"][:31], title, [header(k) for k in cols])
    book.close()
