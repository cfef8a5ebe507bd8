"""Reads of the dashboards area: rankings, trends and chase lists as plain data (lists of dicts).

Every ranking costs a fixed number of queries whatever the number of rows: official figures come from the
small RegistrationReport table, field figures from the per-day summary rows (``models``), grids of one village
from that village's own households and visits. Scoping of who may open which ranking is the views' job
(``get_in_scope_or_404`` on the parent place); lists of people go through ``scope_queryset`` here.

Reads never write: nothing here refreshes a summary. A caller that wants fresh rows calls
``services.ensure_fresh_summaries()`` once before reading (the views, ``leaderboard``, issuing a 通报).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    When,
)
from django.utils import timezone

from outreach.accounts.scoping import scope_queryset
from outreach.campaigns.models import Assignment, Campaign
from outreach.campaigns.rules import CampaignChoice, any_running, page_campaign
from outreach.dashboards.models import FIGURE_FIELDS, OrganizationDaySummary, VillageDaySummary
from outreach.lib import metrics as m
from outreach.people.models import (
    Household,
    PartyMember,
    PartyOrganization,
    RosterCorrection,
    on_roster_q,
    vulnerable_q,
)
from outreach.places.models import (
    County,
    GridArea,
    Town,
    Village,
    Zone,
    population_label,
    report_population_label,
)
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import FLAGGED_STATUSES, Visit

LEVELS = {
    "county": "县（市、区）",
    "town": "乡镇（街道）",
    "zone": "作战宣传片区",
    "village": "村（社区）",
    "grid": "网格",
    "organization": "党组织",
}
# Where a row of each level drills down to.
CHILD_LEVEL = {"county": "town", "town": "village", "zone": "town", "village": "grid"}
FIELD_FIGURES = FIGURE_FIELDS
# Levels whose rows carry official figures, so 通报 and 走访 are reconciled on them.
RECONCILED_LEVELS = ("county", "town", "zone")
# An official report older than this is not shown as the figure of a later date.
REPORT_WINDOW_DAYS = 31
# How many of the newest report dates a ranking page reads (it links the latest few).
REPORT_DATES = 60


def denominator_text(used: list[tuple[str, list[str]]]) -> str:
    """The denominators of the per-person rates, named once for a page, an export's subtitle or a bulletin."""
    if not used:
        return ""
    parts = []
    for label, names in used:
        parts.append(f"{label}：{'、'.join(names)}" if len(names) <= 3 else f"{label}（{len(names)}个单位）")
    return f"注册率、实名率的分母：{'；'.join(parts)}"


def correction_text(as_of: dt.date, corrections: dict) -> str:
    """ "" or the note saying the figures of ``as_of`` were recomputed after roster corrections recorded later."""
    total = corrections.get("total")
    if not total:
        return ""
    day = f"{as_of.year}年{as_of.month}月{as_of.day}日"
    latest = corrections["latest"][0]
    return (
        f"注意：{day}之后记录了{total}处花名册事后更正，本排名的住户数、党员数及其比率按更正后的花名册计算，"
        f"与当日发布的数字可能不同。最近一处：{latest['text']}"
    )


@dataclass
class Ranking:
    level: str
    parent: object | None
    as_of: dt.date
    previous_as_of: dt.date | None
    metric: m.Metric
    choice: CampaignChoice
    rows: list[dict] = field(default_factory=list)
    # Roster corrections recorded after ``as_of`` that change its figures (``roster_corrections``).
    corrections: dict = field(default_factory=dict)

    @property
    def denominators(self) -> list[tuple[str, list[str]]]:
        """[(the 常住人口 a rate per person divides by, the units whose rate used it)], as pages name them."""
        used: dict[str, list[str]] = {}
        for row in self.rows:
            if row.get("population_source"):
                used.setdefault(row["population_source"], []).append(row["name"])
        return sorted(used.items(), key=lambda item: -len(item[1]))

    @property
    def denominator_text(self) -> str:
        """ "注册率、实名率的分母：第七次人口普查常住人口（2020）（12个单位）；通报给出的…：新绛县" or ""."""
        return denominator_text(self.denominators)

    @property
    def correction_text(self) -> str:
        return correction_text(self.as_of, self.corrections)

    @property
    def campaign(self) -> Campaign | None:
        return self.choice.campaign

    @property
    def level_name(self) -> str:
        return LEVELS[self.level]

    @property
    def child_level(self) -> str | None:
        return CHILD_LEVEL.get(self.level)


def scope_county(parent) -> County | None:
    """The county a ranking inside ``parent`` belongs to (``None``: the city), for the campaign rule."""
    if parent is None or isinstance(parent, County):
        return parent
    return parent.county


def latest_report_date() -> dt.date | None:
    return RegistrationReport.objects.filter(town__isnull=True).aggregate(d=Max("as_of"))["d"]


def default_as_of(dates: list[dt.date] | None = None) -> dt.date:
    """Today while a campaign runs (so today's visits show; the App figures are the latest report's within the
    window), else the latest county report date, else today. ``dates``: ``report_dates()`` if the caller has it."""
    today = timezone.localdate()
    if any_running(today):
        return today
    latest = (dates[0] if dates else None) if dates is not None else latest_report_date()
    return latest or today


def previous_report_date(as_of: dt.date, dates: list[dt.date] | None = None) -> dt.date | None:
    """The report date before ``as_of`` (county reports), else the day before. ``dates``: ``report_dates()`` if
    the caller has it (read from it when it reaches back far enough)."""
    day = next((d for d in dates if d < as_of), None) if dates is not None else None
    if day is None and (dates is None or len(dates) >= REPORT_DATES):
        day = RegistrationReport.objects.filter(town__isnull=True, as_of__lt=as_of).aggregate(d=Max("as_of"))["d"]
    return day or (as_of - dt.timedelta(days=1))


def report_dates(limit: int | None = None) -> list[dt.date]:
    """The newest county report dates, newest first (``REPORT_DATES`` of them unless ``limit``)."""
    return list(
        RegistrationReport.objects.filter(town__isnull=True)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .distinct()[: limit or REPORT_DATES]
    )


# ----------------------------------------------------------------------------------------------- figures


def _summary_day(campaign: Campaign | None, as_of: dt.date) -> dt.date | None:
    if campaign is None or as_of < campaign.start_date:
        return None
    return min(as_of, campaign.end_date)


def _sum_fields(names):
    return {name: Sum(name) for name in names}


class _Sums:
    """Summary sums and official reports for the current and the previous date of one ranking, each fetched
    once for both days (``days``: the summary days, ``report_days``: the two report dates)."""

    def __init__(self, campaign, days, report_days=()):
        self.campaign = campaign
        self.days = sorted({d for d in days if d is not None})
        self.report_days = sorted({d for d in report_days if d is not None})
        self.cache = {}

    def official(self, as_of, level: str, **filters) -> dict[int, dict]:
        """The latest report on or before ``as_of`` (within the window) per county or town."""
        key = ("official", level, tuple(sorted(filters.items())))
        if key not in self.cache:
            self.cache[key] = _official_rows(self.report_days or [as_of], level, **filters)
        return _latest_on(self.cache[key], as_of, "county_id" if level == "county" else "town_id")

    def _fetch(self, key, build):
        if key not in self.cache:
            found = defaultdict(dict)
            if self.campaign is not None and self.days:
                for row in build():
                    found[row.pop("day")][row.pop("unit")] = row
            self.cache[key] = found
        return self.cache[key]

    def village(self, day, group: str, **filters) -> dict[int, dict]:
        def build():
            return (
                VillageDaySummary.objects.filter(campaign=self.campaign, day__in=self.days, **filters)
                .order_by()
                .values("day", unit=F(group))
                .annotate(**_sum_fields(FIELD_FIGURES))
            )

        return self._fetch(("village", group, tuple(sorted(filters.items()))), build).get(day, {})

    def member(self, day, group: str, **filters) -> dict[int, dict]:
        def build():
            return (
                OrganizationDaySummary.objects.filter(campaign=self.campaign, day__in=self.days, **filters)
                .order_by()
                .values("day", unit=F(group))
                .annotate(members=Sum("members"), active_members=Sum("active_members"))
            )

        return self._fetch(("member", group, tuple(sorted(filters.items()))), build).get(day, {})

    def organizations(self, day, **filters) -> dict[int, dict]:
        def build():
            return OrganizationDaySummary.objects.filter(campaign=self.campaign, day__in=self.days, **filters).values(
                "day", "members", "active_members", *FIELD_FIGURES, unit=F("organization_id")
            )

        return self._fetch(("organization", tuple(sorted(filters.items()))), build).get(day, {})

    def places(self, key, build) -> list:
        if key not in self.cache:
            self.cache[key] = list(build())
        return self.cache[key]


def _official_rows(days, level: str, **filters) -> list[dict]:
    """The reports that can be the latest on or before each of ``days`` (within the window) of every county or
    town: per unit, the newest report of each day's window (at most two rows per unit).

    One plain read of the windows' reports (a month of one row a day per unit), the newest picked here: the
    same pick as a correlated "newest in the window" subquery per row, which cost five times the read."""
    key = "county_id" if level == "county" else "town_id"
    reports = RegistrationReport.objects.filter(
        as_of__lte=max(days), as_of__gte=min(days) - dt.timedelta(days=REPORT_WINDOW_DAYS), **filters
    )
    reports = reports.filter(town__isnull=True) if level == "county" else reports.filter(town__isnull=False)
    windows = [(day - dt.timedelta(days=REPORT_WINDOW_DAYS), day) for day in days]
    newest = {}
    for row in reports.order_by().values_list(key, "as_of", "registered", "verified", "population"):
        for n, (earliest, latest) in enumerate(windows):
            if earliest <= row[1] <= latest:
                found = newest.get((row[0], n))
                if found is None or row[1] > found[1]:
                    newest[(row[0], n)] = row
    names = (key, "as_of", "registered", "verified", "population")
    return [dict(zip(names, row, strict=True)) for row in set(newest.values())]


def _latest_on(rows: list[dict], as_of, key: str) -> dict[int, dict]:
    earliest = as_of - dt.timedelta(days=REPORT_WINDOW_DAYS)
    found = {}
    for row in rows:
        if earliest <= row["as_of"] <= as_of and (row[key] not in found or row["as_of"] > found[row[key]]["as_of"]):
            found[row[key]] = row
    return found


def _population(report: dict | None, county: tuple | None = None) -> tuple[int | None, str | None]:
    """(常住人口, the name of that denominator) of a ranking row: the bulletin's own figure when it gave one,
    else (counties only) the county's stored figure with its basis and year; (None, None) when neither."""
    if report and report.get("population"):
        return report["population"], report_population_label(report["as_of"])
    if county is not None and county[0]:
        return county[0], population_label(county[1], county[2])
    return None, None


def _unit_figures(level: str, parent, as_of: dt.date, campaign, sums: _Sums) -> list[dict]:
    """Rows (code, name, pk and integer figures) of every unit of ``level`` under ``parent`` on ``as_of``."""
    rows = []
    day = _summary_day(campaign, as_of)
    if level == "county":
        official = sums.official(as_of, "county")
        field_sums = sums.village(day, "county_id")
        member_sums = sums.member(day, "county_id")
        for pk, code, name, *population in sums.places(
            "counties",
            lambda: County.objects.order_by("code").values_list(
                "pk", "code", "name", "population", "population_basis", "population_year"
            ),
        ):
            row = {"pk": pk, "code": code, "name": name}
            report = official.get(pk)
            row["population"], row["population_source"] = _population(report, population)
            if report:
                row.update(registered=report["registered"], verified=report["verified"], report_date=report["as_of"])
            row.update(field_sums.get(pk, {}))
            row.update(member_sums.get(pk, {}))
            rows.append(row)
    elif level in ("town", "zone"):
        official = sums.official(as_of, "town", county=parent)
        field_sums = sums.village(day, "town_id", county=parent)
        member_sums = sums.member(day, "town_id", county=parent, town__isnull=False)
        towns = {}
        for pk, code, name in sums.places(
            "towns", lambda: Town.objects.filter(county=parent).order_by("code").values_list("pk", "code", "name")
        ):
            row = {"pk": pk, "code": code, "name": name}
            report = official.get(pk)
            if report:
                population, source = _population(report)
                row.update(
                    registered=report["registered"],
                    verified=report["verified"],
                    population=population,
                    population_source=source,
                    report_date=report["as_of"],
                )
            row.update(field_sums.get(pk, {}))
            row.update(member_sums.get(pk, {}))
            towns[pk] = row
        if level == "town":
            rows = list(towns.values())
        else:
            members = defaultdict(list)
            for zone_id, town_id in sums.places(
                "zone_towns",
                lambda: Zone.towns.through.objects.filter(zone__county=parent).values_list("zone_id", "town_id"),
            ):
                members[zone_id].append(town_id)
            for pk, name in sums.places(
                "zones", lambda: Zone.objects.filter(county=parent).order_by("name").values_list("pk", "name")
            ):
                row = {"pk": pk, "code": "", "name": name}
                sources = set()
                for town_id in members.get(pk, []):
                    for key, value in towns[town_id].items():
                        if key in m.FIGURES and value is not None:
                            row[key] = row.get(key, 0) + value
                    if towns[town_id].get("population_source"):
                        sources.add(towns[town_id]["population_source"])
                if sources:
                    row["population_source"] = "、".join(sorted(sources))
                row["towns"] = len(members.get(pk, []))
                rows.append(row)
    elif level == "village":
        field_sums = sums.village(day, "village_id", town=parent)
        member_sums = sums.member(day, "village_id", town=parent, village__isnull=False)
        for pk, code, name in sums.places(
            "villages",
            lambda: (
                Village.objects.filter(town=parent, is_placeholder=False)
                .order_by("code")
                .values_list("pk", "code", "short_name")
            ),
        ):
            row = {"pk": pk, "code": code, "name": name}
            row.update(field_sums.get(pk, {}))
            row.update(member_sums.get(pk, {}))
            rows.append(row)
    elif level == "grid":
        rows = _grid_figures(parent, as_of, campaign)
    elif level == "organization":
        filters = {"county": parent} if isinstance(parent, County) else {"town": parent}
        summaries = sums.organizations(day, **filters)
        for pk, name in sums.places(
            "organizations",
            lambda: PartyOrganization.objects.filter(**filters).order_by("name").values_list("pk", "name"),
        ):
            row = {"pk": pk, "code": "", "name": name}
            row.update(summaries.get(pk, {}))
            rows.append(row)
    return rows


def _grid_figures(village: Village, as_of: dt.date, campaign) -> list[dict]:
    """Grids of one village, counted from the village's own rows (a few hundred households)."""
    rows = {
        pk: {"pk": pk, "code": "", "name": name}
        for pk, name in GridArea.objects.filter(village=village).order_by("name").values_list("pk", "name")
    }
    no_grid = {"pk": None, "code": "", "name": "未划分网格"}

    def put(grid_id, values):
        (rows.get(grid_id) if grid_id in rows else no_grid).update(values)

    households = Household.objects.filter(village=village).on_roster(as_of)
    for grid_id, n in households.order_by().values_list("grid").annotate(n=Count("pk")):
        put(grid_id, {"households": n})
    if campaign is not None:
        end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
        for grid_id, n in (
            Assignment.objects.filter(campaign=campaign, household__in=households)
            .order_by()
            .values_list("household__grid")
            .annotate(n=Count("pk"))
        ):
            put(grid_id, {"assigned": n})
        visits = Visit.objects.filter(
            campaign=campaign, county_id=village.county_id, town_id=village.town_id, village=village, visited_at__lt=end
        )
        # Households count in 入户率 only while on the roster (as the summaries count them); visits always.
        listed = on_roster_q("household__roster_start", "household__roster_end", as_of)
        for row in (
            visits.order_by()
            .values("grid")
            .annotate(
                visited=Count("household", distinct=True, filter=Q(is_qualified=True) & listed),
                signed=Count("household", distinct=True, filter=Q(signed=True) & listed),
                visits=Count("pk"),
                qualified_visits=Count("pk", filter=Q(is_qualified=True)),
                flagged_visits=Count("pk", filter=Q(integrity__in=FLAGGED_STATUSES)),
                **_sum_fields(["app_installed", "app_registered", "app_verified", "alerts_enabled"]),
            )
        ):
            put(row.pop("grid"), row)
    result = list(rows.values())
    if len(no_grid) > 3:
        result.append(no_grid)
    return result


def _fill_defaults(rows: list[dict], level: str) -> None:
    official = ("population", "registered", "verified")
    for row in rows:
        for key in m.FIGURES:
            if key in official:
                row.setdefault(key, None)
            elif key in ("members", "active_members") and level == "grid":
                row.setdefault(key, None)
            else:
                row[key] = row.get(key) or 0
        row["gap"] = row["registered"] - row["app_registered"] if row.get("registered") is not None else None
        for metric in m.METRICS:
            row[f"v_{metric.key}"] = metric.value(row)
        row[f"v_{m.FLAGGED_SHARE.key}"] = m.FLAGGED_SHARE.value(row)


def reconcile_row(row: dict, previous: dict | None) -> list[str]:
    """The 通报 vs 走访 flags of one row against the same unit's row on the previous report date: the one
    reading the reconciliation page and the ranking's badge share."""
    previous = previous or {}
    return m.reconcile(
        row.get("registered"),
        row.get("app_registered"),
        previous.get("registered"),
        previous.get("app_registered"),
        jump_percent=settings.RECONCILE_GAP_JUMP_PERCENT,
    )


def ranking(
    level: str, parent=None, as_of: dt.date | None = None, metric: str | None = None, campaign=None, dates=None
) -> Ranking:
    """The ranking of every unit of ``level`` under ``parent`` on ``as_of``, with the change since the
    previous report date (rank moves and value Δ of the ranking metric).

    ``campaign`` (an id from the page's 活动 choice) overrides the campaign rule's default for the place; the
    previous date is read in the same campaign. ``dates``: ``report_dates()`` when the caller has read them.
    """
    if level not in LEVELS:
        raise KeyError(f"没有这个层级：{level}")
    as_of = as_of or default_as_of(dates)
    metric_obj = m.get_metric(metric or m.DEFAULT_METRIC_BY_LEVEL[level])
    choice = page_campaign(scope_county(parent), as_of, requested=getattr(campaign, "pk", campaign))
    campaign = choice.campaign
    previous = previous_report_date(as_of, dates)
    sums = _Sums(campaign, [_summary_day(campaign, as_of), _summary_day(campaign, previous)], [as_of, previous])
    rows = _unit_figures(level, parent, as_of, campaign, sums)
    _fill_defaults(rows, level)
    m.rank_rows(rows, metric_obj)
    before = {}
    if previous is not None:
        prev_rows = _unit_figures(level, parent, previous, campaign, sums)
        _fill_defaults(prev_rows, level)
        m.rank_rows(prev_rows, metric_obj)
        before = {r["pk"]: r for r in prev_rows}
    for row in rows:
        prev = before.get(row["pk"])
        row["previous_rank"] = prev["rank"] if prev else None
        row["rank_change"] = (
            prev["rank"] - row["rank"] if prev and prev["rank"] is not None and row["rank"] is not None else None
        )
        row["delta_value"] = m.delta_value(metric_obj, row["_value"], prev["_value"] if prev else None)
        row["delta"] = m.format_delta(metric_obj, row["_value"], prev["_value"] if prev else None)
        row["value"] = metric_obj.display(row)
        if level in RECONCILED_LEVELS:
            row["reconcile"] = reconcile_row(row, prev)
    corrections = roster_corrections(level, parent, as_of)
    for row in rows:
        row["roster_corrections"] = corrections["by_unit"].get(row["pk"], 0) if corrections["by_unit"] else 0
    return Ranking(level, parent, as_of, previous, metric_obj, choice, rows, corrections)


# Which column of a correction names the unit a row of each level stands for.
CORRECTION_UNIT = {"county": "county_id", "town": "town_id", "village": "village_id"}


def roster_corrections(level: str, parent, as_of: dt.date, shown: int = 3) -> dict:
    """Corrections recorded after ``as_of`` that change its roster figures, inside the ranking's place.

    {"total": n, "by_unit": {unit pk: n} (levels whose rows are counties, towns or villages), "latest": [the
    last ``shown`` as {"text": …}]}; one query when there is none, two otherwise.
    """
    after = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    qs = RosterCorrection.objects.filter(affects_from__lte=as_of, recorded_at__gte=after)
    if isinstance(parent, County):
        qs = qs.filter(county=parent)
    elif isinstance(parent, Town):
        qs = qs.filter(town=parent)
    elif isinstance(parent, Village):
        qs = qs.filter(village=parent)
    unit = CORRECTION_UNIT.get(level)
    if unit is not None:
        by_unit = dict(qs.order_by().values_list(unit).annotate(n=Count("pk")))
        total = sum(by_unit.values())
    else:
        by_unit, total = {}, qs.count()
    # Nearly every ranking has no later correction: then the count is the one query.
    latest = qs.select_related("recorded_by").order_by("-recorded_at", "-pk")[:shown] if total else []
    return {"total": total, "by_unit": by_unit, "latest": [_correction_line(c) for c in latest]}


def _correction_line(c) -> dict:
    who = (c.recorded_by.get_full_name() or c.recorded_by.get_username()) if c.recorded_by else "系统"
    old = f"{c.old_value:%Y-%m-%d}" if c.old_value else "空"
    new = f"{c.new_value:%Y-%m-%d}" if c.new_value else "空"
    when = timezone.localtime(c.recorded_at)
    return {"text": f"{when:%Y-%m-%d} {who} 把{c.subject}的{c.get_field_display()}由{old}改为{new}，原因：{c.reason}"}


@dataclass
class Reconciliation:
    """通报 vs 走访 of every county (or every town of a county) on one date, with the previous report's."""

    level: str
    parent: object | None
    as_of: dt.date
    previous_as_of: dt.date | None
    choice: CampaignChoice
    rows: list[dict] = field(default_factory=list)

    @property
    def campaign(self) -> Campaign | None:
        return self.choice.campaign

    @property
    def level_name(self) -> str:
        return LEVELS[self.level]

    @property
    def flagged(self) -> list[dict]:
        return [row for row in self.rows if row["reconcile"]]


def reconciliation(parent=None, as_of: dt.date | None = None, campaign=None) -> Reconciliation:
    """Per county (``parent`` None) or per town of the county ``parent`` on ``as_of``: the official
    安装注册人数 beside the registrations recorded in visits, the gap, the previous report's gap, and the
    flags of ``reconcile_row`` — the same rows, dates and campaign as the ranking of that level."""
    level = "county" if parent is None else "town"
    as_of = as_of or default_as_of()
    choice = page_campaign(scope_county(parent), as_of, requested=getattr(campaign, "pk", campaign))
    previous = previous_report_date(as_of)
    sums = _Sums(
        choice.campaign,
        [_summary_day(choice.campaign, as_of), _summary_day(choice.campaign, previous)],
        [as_of, previous],
    )
    rows = _unit_figures(level, parent, as_of, choice.campaign, sums)
    _fill_defaults(rows, level)
    before = {}
    if previous is not None:
        prev_rows = _unit_figures(level, parent, previous, choice.campaign, sums)
        _fill_defaults(prev_rows, level)
        before = {r["pk"]: r for r in prev_rows}
    for row in rows:
        prev = before.get(row["pk"]) or {}
        row["previous_registered"] = prev.get("registered")
        row["previous_app_registered"] = prev.get("app_registered")
        row["previous_gap"] = prev.get("gap")
        row["gap_change"] = (
            row["gap"] - row["previous_gap"] if row["gap"] is not None and row["previous_gap"] is not None else None
        )
        row["reconcile"] = reconcile_row(row, prev)
        row["reconcile_text"] = "、".join(m.RECONCILE_FLAGS[f] for f in row["reconcile"])
    # Flagged units first, then by code, so the list a county reads starts with what to chase.
    rows.sort(key=lambda r: (not r["reconcile"], r["code"]))
    return Reconciliation(level, parent, as_of, previous, choice, rows)


# ------------------------------------------------------------------------------------------------ trends


def trend_reports(until: dt.date, days: int = 120):
    """(county, date, 安装注册人数, 常住人口) of every county report of the last ``days`` days up to ``until``."""
    return RegistrationReport.objects.filter(
        town__isnull=True, as_of__lte=until, as_of__gt=until - dt.timedelta(days=days)
    ).values_list("county_id", "as_of", "registered", "population")


def registration_trend(until: dt.date, days: int = 120) -> dict:
    """注册率 per county on every county report date of the last ``days`` days: {dates, series}."""
    counties = County.objects.order_by("code").values_list("pk", "name", "population")
    names, populations = {}, {}
    for pk, name, population in counties:
        names[pk], populations[pk] = name, population
    reports = trend_reports(until, days)
    points = defaultdict(dict)
    dates = set()
    for county_id, day, registered, population in reports:
        pop = population or populations.get(county_id)
        dates.add(day)
        points[county_id][day] = m.BY_KEY["registration_rate"].value({"registered": registered, "population": pop})
    dates = sorted(dates)
    series = [{"name": names[pk], "values": [points[pk].get(day) for day in dates]} for pk in names if pk in points]
    return {"dates": dates, "series": series}


def progress_days(campaign: Campaign, until: dt.date, step_days: int = 7) -> list[dt.date]:
    """The days the 入户率 trend shows: every ``step_days`` from the campaign's start, then ``until`` (or its end)."""
    end = min(until, campaign.end_date)
    days = []
    day = campaign.start_date
    while day < end:
        days.append(day)
        day += dt.timedelta(days=step_days)
    days.append(end)
    return days


def progress_sums(campaign: Campaign, days: list[dt.date], county=None):
    """{day, h: households, v: visited} summed over the villages (of ``county``, else the city) on each of ``days``."""
    qs = VillageDaySummary.objects.filter(campaign=campaign, day__in=days)
    if county is not None:
        qs = qs.filter(county=county)
    return qs.order_by().values("day").annotate(h=Sum("households"), v=Sum("visited"))


def progress_trend(campaign: Campaign | None, until: dt.date, county=None, step_days: int = 7) -> dict:
    """入户率 over the campaign (weekly points and ``until``) against the campaign's target."""
    if campaign is None:
        return {"dates": [], "series": [], "target": None}
    days = progress_days(campaign, until, step_days)
    sums = {r["day"]: r for r in progress_sums(campaign, days, county)}
    values = []
    for day in days:
        r = sums.get(day)
        values.append(m.BY_KEY["visit_rate"].value({"visited": r["v"], "households": r["h"]}) if r else None)
    target = m.percent_target(campaign.target_visit_rate)
    return {"dates": days, "series": [{"name": m.BY_KEY["visit_rate"].name, "values": values}], "target": target}


# ------------------------------------------------------------------------------------------ chase lists


def members_without_visit(user, days: int, as_of: dt.date | None = None):
    """Active members in ``user``'s scope with no visit in the last ``days`` days (never visited first)."""
    qs = idle_members(scope_queryset(user, PartyMember.objects.all()), days, as_of)
    return qs.select_related("organization", "county").order_by(F("last_visit").asc(nulls_first=True), "pk")


def idle_members(members, days: int, as_of: dt.date | None = None):
    """The active ones of ``members`` on ``as_of``'s roster with no visit in the ``days`` days up to ``as_of``
    (annotated ``last_visit``, their latest visit up to ``as_of``, None if never visited): the rule of the chase
    list and of the group's chase reminder."""
    as_of = as_of or timezone.localdate()
    cutoff = timezone.make_aware(dt.datetime.combine(as_of - dt.timedelta(days=days - 1), dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    # Each member's latest visit is kept by the database (VisitorLastVisit): one join, no probe of the visits.
    # Only a member visited after ``as_of`` (a list of an earlier day) has their latest visit before it looked up.
    known = F("last_visit_record__last_visited_at")
    before_end = Visit.objects.filter(visitor=OuterRef("pk"), visited_at__lt=end).order_by("-visited_at")
    last = Case(
        When(Q(last_visit_record__last_visited_at__gte=end), then=Subquery(before_end.values("visited_at")[:1])),
        default=known,
    )
    return (
        members.on_roster(as_of)
        .filter(is_active=True)
        .annotate(last_visit=last)
        .filter(Q(last_visit__isnull=True) | Q(last_visit__lt=cutoff))
    )


def households_never_visited(user, campaign: Campaign | None, as_of: dt.date | None = None):
    """Households in ``user``'s scope with no visit in ``campaign`` up to ``as_of``, vulnerable households first."""
    return (
        never_visited(scope_queryset(user, Household.objects.all()), campaign, as_of)
        .with_vulnerable_first()
        .select_related("village", "town", "grid")
        .order_by("vulnerable_first", "village_id", "pk")
    )


def never_visited(households, campaign: Campaign | None, as_of: dt.date | None = None):
    """The ones of ``households`` on ``as_of``'s roster (today's when None) with no visit in ``campaign`` (any
    visit when None) up to the end of that day: the chase list's rule. As ``idle_members``, a list of an earlier
    day does not count the visits made after it."""
    as_of = as_of or timezone.localdate()
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    visits = Visit.objects.filter(household=OuterRef("pk"), visited_at__lt=end)
    if campaign is not None:
        visits = visits.filter(campaign=campaign)
    return households.on_roster(as_of).filter(~Exists(visits))


def chase_counts(county: County, days: int = 7, as_of: dt.date | None = None) -> list[dict]:
    """Per town of ``county`` (in code order, then 县直单位 for members of county-level organizations): the
    never-visited vulnerable households (in the campaign the rule gives the county that day) and the members
    idle ``days`` days, counted with the chase lists' own rules. Towns with nothing to chase are left out."""
    as_of = as_of or timezone.localdate()
    campaign = page_campaign(county, as_of).campaign
    households = never_visited(Household.objects.filter(county=county), campaign, as_of).filter(vulnerable_q())
    by_town = dict(households.values_list("town").annotate(n=Count("pk")).order_by())
    members = idle_members(PartyMember.objects.filter(county=county), days, as_of)
    idle = dict(members.values_list("organization__town").annotate(n=Count("pk")).order_by())
    rows = []
    for town in Town.objects.filter(county=county).order_by("code"):
        h, n = by_town.get(town.pk, 0), idle.get(town.pk, 0)
        if h or n:
            rows.append({"town": town, "name": town.name, "households": h, "members": n})
    if idle.get(None) or by_town.get(None):
        rows.append(
            {"town": None, "name": "县直单位", "households": by_town.get(None, 0), "members": idle.get(None, 0)}
        )
    return rows


def villages_below_target(user, campaign: Campaign | None, as_of: dt.date, limit: int = 300) -> tuple[list[dict], int]:
    """Villages in ``user``'s scope whose 入户率 on ``as_of`` is below the campaign target, lowest first
    (at most ``limit`` of them, as plain dicts with the place names), and how many there are in all."""
    day = _summary_day(campaign, as_of)
    if day is None:
        return [], 0
    metric = m.BY_KEY["visit_rate"]
    target = m.percent_target(campaign.target_visit_rate)
    below = summaries_below_target(user, campaign, day, target)
    # The lowest first by the metric's exact value (a city has a few thousand villages: sorted here, not by a
    # float in SQL); the names come in the same query, so the page's rows need no second read.
    figures = list(below)
    figures.sort(key=lambda r: (metric.value({"visited": r[0], "households": r[1]}), r[2]))
    result = []
    for visited, households, _code, village_id, village, town, county in figures[:limit]:
        result.append(
            {
                "village_id": village_id,
                "village": village,
                "town": town,
                "county": county,
                "households": households,
                "visited": visited,
                "display": metric.display({"visited": visited, "households": households}),
                "missing": max(0, _ceil(households * target) - visited),
            }
        )
    return result, len(figures)


def summaries_below_target(user, campaign: Campaign, day: dt.date, target: m.Fraction):
    """(visited, households, village code, village id, village, town and county names) of the summary rows of
    ``day`` in ``user``'s scope whose 入户率 is below ``target``: the one read of the villages' chase list."""
    villages = scope_queryset(user, Village.objects.all())
    # visited ÷ households < target, compared in integers.
    return (
        VillageDaySummary.objects.filter(campaign=campaign, day=day, village__in=villages.values("pk"))
        .annotate(done=F("visited") * target.denominator, needed=F("households") * target.numerator)
        .filter(households__gt=0, done__lt=F("needed"))
        .values_list(
            "visited", "households", "village__code", "village_id", "village__short_name", "town__name", "county__name"
        )
    )


def _ceil(value: m.Fraction) -> int:
    return -(-value.numerator // value.denominator)
