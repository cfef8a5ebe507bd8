"""Exports as .xlsx in the layout clerks use, streamed with bounded memory.

Each kind is a generator of ``SheetData`` (name, title, typed columns, rows), in the spirit of pretix's
exporters: rows come from ``values_list().iterator()`` of a scoped queryset (the 责任分工表: one SQL query with
its progress joined in the database, read through a server-side cursor), and ``export_file`` streams
them into the project's one writer (``outreach.lib.xlsx``, constant memory), so 100,000 rows never sit
in memory; ``export_dataset`` collects the same rows into a tablib Dataset for the import-export API.
Phones pass ``display_phone`` (masked unless the user's role calls households); formula-like text gets the
quote-prefix style; numbers, dates and rates (through ``outreach.lib.metrics``) are typed cells. The
round-trip kinds carry 户编号/党员编号 so an edited sheet imports back in place.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

import tablib
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, IntegerField, Max, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from outreach.accounts.models import AccessLog
from outreach.accounts.privacy import display_phone, phone_display
from outreach.accounts.services import record_access
from outreach.campaigns.models import Assignment
from outreach.dataio import permissions
from outreach.dataio.columns import EXPORT_COLUMNS, KINDS, export_columns
from outreach.dataio.importers import pick_campaign
from outreach.dataio.permissions import scoped
from outreach.lib import metrics, xlsx
from outreach.people.models import Household, HouseholdEndReason, MemberLeftReason, PartyMember
from outreach.places.models import population_label, report_population_label
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import Visit

CURSOR_BATCH = 2000
EXPORT_KINDS = {
    "responsibility": "党员包联入户责任分工表",
    "households": "住户花名册",
    "members": "党员名册",
    "registrations": "国家反诈中心App注册通报",
    "visits": "走访记录",
}

VISIT_COLUMNS = [
    xlsx.Column("走访时间", kind="datetime"),
    *xlsx.columns("镇（街道）", "村（社区）", "网格", "户主姓名", kind="text"),
    xlsx.Column("户编号", kind="number"),
    xlsx.Column("走访党员", kind="text"),
    xlsx.Column("党员编号", kind="number"),
    *xlsx.columns("真入户", "真人见", "真讲解", "真签名", "有效走访", kind="text"),
    *xlsx.columns("现场安装App人数", "现场注册人数", "现场实名人数", kind="number"),
    xlsx.Column("备注", kind="text"),
]


@dataclass
class SheetData:
    """One sheet of an export: rows are consumed once, in order, while the sheet is written."""

    name: str
    title: str
    columns: list[xlsx.Column]
    rows: Iterable[list]


def _yes(value) -> str:
    return "是" if value else "否"


RESPONSIBILITY_FIELDS = (
    "household__town__code",
    "household__village__code",
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


def responsibility_rows(user, campaign, county=None, town=None) -> tuple[str, list]:
    """The 责任分工表's one query: (sql, params) of its scoped assignment rows in sheet order, each row the
    ``RESPONSIBILITY_FIELDS`` then the household's progress in the campaign (last visit, signed, registered).

    The progress is a grouped subquery of the campaign's visits joined to the rows in the database, so
    nothing per household is held in Python; the rows come as plain tuples through one server-side cursor.
    """
    qs = Assignment.objects.filter(campaign=campaign)
    visits = Visit.objects.filter(campaign=campaign)
    if county is not None:
        qs = qs.filter(household__county=county)
        visits = visits.filter(county=county)
    if town is not None:
        qs = qs.filter(household__town=town)
        visits = visits.filter(town=town)
    aliases = [f"c{i}" for i in range(len(RESPONSIBILITY_FIELDS))]
    rows = (
        scoped(user, qs)
        .annotate(**{a: F(f) for a, f in zip(aliases, RESPONSIBILITY_FIELDS, strict=True)})
        .order_by()
        .values_list(*aliases)
    )
    progress = (
        visits.order_by()
        .values("household_id")
        .annotate(
            p_last=Max("visited_at"), p_signed=Max(Cast("signed", IntegerField())), p_registered=Sum("app_registered")
        )
        .values_list("household_id", "p_last", "p_signed", "p_registered")
    )
    rows_sql, rows_params = rows.query.sql_with_params()
    progress_sql, progress_params = progress.query.sql_with_params()
    picked = ", ".join(f"a.{a}" for a in aliases[2:])
    sql = (
        f"SELECT {picked}, p.p_last, p.p_signed, p.p_registered "  # noqa: S608 - SQL from our querysets
        f"FROM ({rows_sql}) a LEFT JOIN ({progress_sql}) p ON p.household_id = a.c14 "
        "ORDER BY a.c0, a.c1, a.c15, a.c14"
    )
    return sql, [*rows_params, *progress_params]


def export_responsibility(user, county=None, campaign=None, town=None, **_) -> Iterator[SheetData]:
    campaign = campaign or pick_campaign(county=county)
    columns = export_columns(EXPORT_COLUMNS["responsibility"])
    phone = phone_display(user)

    def lines(group):
        for seq, row in enumerate(group, start=1):
            last = row[14]
            if isinstance(last, str):  # SQLite hands a raw aggregate back as text
                last = connection.ops.convert_datetimefield_value(last, None, connection)
            yield (
                seq, row[1], row[2], row[3], row[4], phone(row[5]), row[6], row[7], phone(row[8]), row[9], row[10],
                row[11], row[12], row[13], "是" if last is not None else "否", last, "是" if row[15] else "否",
                "是" if row[16] else "否",
            )  # fmt: skip

    found = False
    for (county_name, town_name), group in groupby(
        _responsibility_cursor(user, campaign, county, town), key=_sheet_key
    ):
        found = True
        title = f"{county_name}“{campaign.name}”党员包联入户责任分工表（{town_name}）"
        yield SheetData(town_name, title, columns, lines(group))
    if not found:
        yield SheetData("责任分工表", f"“{campaign.name if campaign else ''}”党员包联入户责任分工表", columns, [])


def _sheet_key(row):
    return row[0], row[1]


def _responsibility_cursor(user, campaign, county, town) -> Iterator[tuple]:
    """The rows of ``responsibility_rows`` through one server-side cursor (PostgreSQL), a batch at a time."""
    if campaign is None:
        return
    try:
        sql, params = responsibility_rows(user, campaign, county, town)
    except EmptyResultSet:  # a scope that reaches nothing
        return
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(CURSOR_BATCH):
            yield from batch


def export_households(user, county=None, town=None, **_) -> Iterator[SheetData]:
    qs = Household.objects.all()
    if county is not None:
        qs = qs.filter(county=county)
    if town is not None:
        qs = qs.filter(town=town)
    qs = scoped(user, qs).order_by("town__code", "village__code", "id")
    rows = qs.values_list(
        "pk", "town__name", "village__short_name", "grid__name", "head_name", "phone", "address", "size",
        "elderly_alone", "left_behind", "student_family", "no_smartphone", "note",
        "roster_start", "roster_end", "end_reason",
    ).iterator(chunk_size=5000)  # fmt: skip
    reasons = dict(HouseholdEndReason.choices)

    def lines():
        for row in rows:
            yield [
                *row[:5], display_phone(user, row[5]), row[6], row[7], *(_yes(v) for v in row[8:12]), row[12],
                row[13], row[14], reasons.get(row[15], ""),
            ]  # fmt: skip

    title = f"{county.name if county else ''}住户花名册"
    yield SheetData("住户花名册", title, export_columns(EXPORT_COLUMNS["households"]), lines())


def export_members(user, county=None, town=None, **_) -> Iterator[SheetData]:
    qs = PartyMember.objects.all()
    if county is not None:
        qs = qs.filter(county=county)
    if town is not None:
        qs = qs.filter(organization__town=town)
    qs = scoped(user, qs).order_by("organization__name", "id")
    rows = qs.values_list(
        "pk", "name", "phone", "organization__name", "organization__town__name",
        "organization__village__short_name", "is_active", "joined_on", "left_on", "left_reason",
    ).iterator(chunk_size=5000)  # fmt: skip
    reasons = dict(MemberLeftReason.choices)
    lines = (
        [
            pk,
            name,
            display_phone(user, phone),
            org,
            town_name,
            village,
            _yes(active),
            joined,
            left,
            reasons.get(why, ""),
        ]
        for pk, name, phone, org, town_name, village, active, joined, left, why in rows
    )
    title = f"{county.name if county else ''}党员名册"
    yield SheetData("党员名册", title, export_columns(EXPORT_COLUMNS["members"]), lines)


def export_registrations(user, county=None, as_of=None, **_) -> Iterator[SheetData]:
    qs = scoped(user, RegistrationReport.objects.all())
    if county is not None:
        qs = qs.filter(county=county)
    if as_of is None:
        as_of = qs.order_by("-as_of").values_list("as_of", flat=True).first() or timezone.localdate()
    qs = qs.filter(as_of=as_of).order_by("county__code", "town__code")
    registration_rate, verification_rate = metrics.BY_KEY["registration_rate"], metrics.BY_KEY["verification_rate"]

    def lines():
        for county_name, county_pop, basis, year, town_name, pop, reg, ver in qs.values_list(
            "county__name", "county__population", "county__population_basis", "county__population_year",
            "town__name", "population", "registered", "verified",
        ):  # fmt: skip
            # The ranking's denominator: the bulletin's own population, else the county's stored figure; named.
            if pop:
                source = report_population_label(as_of)
            elif county_pop and not town_name:
                source = population_label(basis, year)
            else:
                source = None
            figures = {"registered": reg, "verified": ver, "population": pop or (county_pop if not town_name else None)}
            yield [
                county_name,
                town_name or "",
                pop,
                reg,
                ver,
                registration_rate.cell(figures),
                verification_rate.cell(figures),
                source or metrics.DASH,
            ]

    title = f"国家反诈中心App注册情况通报（截至{as_of.year}年{as_of.month}月{as_of.day}日）"
    yield SheetData("注册通报", title, export_columns(EXPORT_COLUMNS["registrations"]), lines())


def export_visits(user, county=None, town=None, campaign=None, **_) -> Iterator[SheetData]:
    qs = Visit.objects.all()
    if county is not None:
        qs = qs.filter(county=county)
    if town is not None:
        qs = qs.filter(town=town)
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    qs = scoped(user, qs).order_by("visited_at", "id")
    rows = qs.values_list(
        "visited_at", "town__name", "village__short_name", "grid__name", "household__head_name", "household_id",
        "visitor__name", "visitor_id", "entered", "met_person", "explained", "signed", "is_qualified",
        "app_installed", "app_registered", "app_verified", "notes",
    ).iterator(chunk_size=5000)  # fmt: skip
    lines = ([*row[:8], *(_yes(v) for v in row[8:13]), *row[13:]] for row in rows)
    yield SheetData("走访记录", f"{county.name if county else ''}入户走访记录", VISIT_COLUMNS, lines)


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
    permissions.require(user, "export", kind, EXPORT_KINDS[kind])
    sheets = _sheets(kind, user, county=county, town=town, campaign=campaign, as_of=as_of)
    with xlsx.Workbook(Path(path)) as book:
        for data in sheets:
            sheet = book.sheet(data.name, data.columns, title_rows=[data.title])
            for values in data.rows:
                sheet.write(values)
                if progress and book.rows % 10000 == 0:
                    progress(book.rows)
    _record(kind, user, county, town, book.rows, Path(path).name, request)
    return book.rows


def export_dataset(kind: str, *, user=None, county=None, town=None, campaign=None, as_of=None) -> tablib.Dataset:
    """The rows ``export_file`` writes (every sheet's, one after another) as a tablib Dataset, logged alike."""
    data = None
    for sheet in _sheets(kind, user, county=county, town=town, campaign=campaign, as_of=as_of):
        if data is None:
            data = tablib.Dataset(headers=[c.header for c in sheet.columns])
        for values in sheet.rows:
            data.append(values)
    _record(kind, user, county, town, len(data), "", None)
    return data


def _sheets(kind, user, **filters) -> Iterator[SheetData]:
    if kind not in EXPORTERS:
        raise ValueError(f"不认识的导出类型“{kind}”，可选：{'、'.join(EXPORTERS)}")
    return EXPORTERS[kind](user, **filters)


def _record(kind, user, county, town, rows, filename, request):
    scope = "".join(p.name for p in (county, town) if p is not None)
    record_access(
        user, AccessLog.Kind.EXPORT, EXPORT_KINDS[kind], rows=rows, filename=filename, detail=scope, request=request
    )


def write_template(kind: str, target) -> None:
    """An empty sheet of ``kind`` with its title and header rows, for clerks to fill in (a path or a file)."""
    cols = [k for k in EXPORT_COLUMNS[kind] if k not in ("visited", "last_visit", "signed", "app_registered")]
    cols = [
        k
        for k in cols
        if k not in ("household_id", "member_id", "registration_rate", "verification_rate", "population_source")
    ]
    title = KINDS[kind]["label"] + ("（截至  年  月  日）" if kind == "registrations" else "")
    with xlsx.Workbook(target) as book:
        book.sheet(KINDS[kind]["label"], export_columns(cols), title_rows=[title])
