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
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.utils import timezone

from outreach.accounts.scoping import scope_queryset
from outreach.campaigns.models import Assignment, Campaign
from outreach.campaigns.rules import CampaignChoice, page_campaign
from outreach.dashboards.models import OrganizationDaySummary, VillageDaySummary
from outreach.lib import metrics as m
from outreach.people.models import Household, PartyMember, PartyOrganization
from outreach.places.models import County, GridArea, Town, Village, Zone
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
FIELD_FIGURES = [
    "households",
    "assigned",
    "visited",
    "signed",
    "visits",
    "qualified_visits",
    "flagged_visits",
    "app_installed",
    "app_registered",
    "app_verified",
    "alerts_enabled",
]
# Levels whose rows carry official figures, so 通报 and 走访 are reconciled on them.
RECONCILED_LEVELS = ("county", "town", "zone")
# An official report older than this is not shown as the figure of a later date.
REPORT_WINDOW_DAYS = 31


@dataclass
class Ranking:
    level: str
    parent: object | None
    as_of: dt.date
    previous_as_of: dt.date | None
    metric: m.Metric
    choice: CampaignChoice
    rows: list[dict] = field(default_factory=list)

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


def default_as_of() -> dt.date:
    """Today while a campaign runs (so today's visits show; the App figures are the latest report's within the
    window), else the latest county report date, else today."""
    today = timezone.localdate()
    if Campaign.objects.filter(start_date__lte=today, end_date__gte=today).exists():
        return today
    return latest_report_date() or today


def previous_report_date(as_of: dt.date) -> dt.date | None:
    """The report date before ``as_of`` (county reports), else the day before."""
    day = RegistrationReport.objects.filter(town__isnull=True, as_of__lt=as_of).aggregate(d=Max("as_of"))["d"]
    return day or (as_of - dt.timedelta(days=1))


def report_dates(limit: int = 60) -> list[dt.date]:
    return list(
        RegistrationReport.objects.filter(town__isnull=True)
        .order_by("-as_of")
        .values_list("as_of", flat=True)
        .distinct()[:limit]
    )


# ----------------------------------------------------------------------------------------------- figures


def _summary_day(campaign: Campaign | None, as_of: dt.date) -> dt.date | None:
    if campaign is None or as_of < campaign.start_date:
        return None
    return min(as_of, campaign.end_date)


def _sum_fields(names):
    return {name: Sum(name) for name in names}


class _Sums:
    """Summary sums for the current and the previous date of one ranking, each fetched once for both days."""

    def __init__(self, campaign, days):
        self.campaign = campaign
        self.days = sorted({d for d in days if d is not None})
        self.cache = {}

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


def _official(as_of, level: str, **filters) -> dict[int, dict]:
    """The latest report on or before ``as_of`` (within the window) per county or town: two small queries."""
    key = "county_id" if level == "county" else "town_id"
    qs = RegistrationReport.objects.filter(
        as_of__lte=as_of, as_of__gte=as_of - dt.timedelta(days=REPORT_WINDOW_DAYS), **filters
    )
    qs = qs.filter(town__isnull=True) if level == "county" else qs.filter(town__isnull=False)
    latest = list(qs.order_by().values_list(key).annotate(day=Max("as_of")))
    if not latest:
        return {}
    which = Q()
    for unit, day in latest:
        which |= Q(**{key: unit, "as_of": day})
    return {r[key]: r for r in qs.filter(which).values(key, "as_of", "registered", "verified", "population")}


def _county_population(report: dict, county_population) -> int | None:
    return report["population"] if report.get("population") else county_population


def _unit_figures(level: str, parent, as_of: dt.date, campaign, sums: _Sums) -> list[dict]:
    """Rows (code, name, pk and integer figures) of every unit of ``level`` under ``parent`` on ``as_of``."""
    rows = []
    day = _summary_day(campaign, as_of)
    if level == "county":
        official = _official(as_of, "county")
        field_sums = sums.village(day, "county_id")
        member_sums = sums.member(day, "county_id")
        for pk, code, name, population in sums.places(
            "counties", lambda: County.objects.order_by("code").values_list("pk", "code", "name", "population")
        ):
            row = {"pk": pk, "code": code, "name": name}
            report = official.get(pk)
            row["population"] = _county_population(report, population) if report else population
            if report:
                row.update(registered=report["registered"], verified=report["verified"], report_date=report["as_of"])
            row.update(field_sums.get(pk, {}))
            row.update(member_sums.get(pk, {}))
            rows.append(row)
    elif level in ("town", "zone"):
        official = _official(as_of, "town", county=parent)
        field_sums = sums.village(day, "town_id", county=parent)
        member_sums = sums.member(day, "town_id", county=parent, town__isnull=False)
        towns = {}
        for pk, code, name in sums.places(
            "towns", lambda: Town.objects.filter(county=parent).order_by("code").values_list("pk", "code", "name")
        ):
            row = {"pk": pk, "code": code, "name": name}
            report = official.get(pk)
            if report:
                row.update(
                    registered=report["registered"],
                    verified=report["verified"],
                    population=report["population"],
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
                for town_id in members.get(pk, []):
                    for key, value in towns[town_id].items():
                        if key in m.FIGURES and value is not None:
                            row[key] = row.get(key, 0) + value
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

    for grid_id, n in Household.objects.filter(village=village).order_by().values_list("grid").annotate(n=Count("pk")):
        put(grid_id, {"households": n})
    if campaign is not None:
        end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
        for grid_id, n in (
            Assignment.objects.filter(campaign=campaign, household__village=village)
            .order_by()
            .values_list("household__grid")
            .annotate(n=Count("pk"))
        ):
            put(grid_id, {"assigned": n})
        visits = Visit.objects.filter(
            campaign=campaign, county_id=village.county_id, town_id=village.town_id, village=village, visited_at__lt=end
        )
        for row in (
            visits.order_by()
            .values("grid")
            .annotate(
                visited=Count("household", distinct=True, filter=Q(is_qualified=True)),
                signed=Count("household", distinct=True, filter=Q(signed=True)),
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


def ranking(level: str, parent=None, as_of: dt.date | None = None, metric: str | None = None, campaign=None) -> Ranking:
    """The ranking of every unit of ``level`` under ``parent`` on ``as_of``, with the change since the
    previous report date (rank moves and value Δ of the ranking metric).

    ``campaign`` (an id from the page's 活动 choice) overrides the campaign rule's default for the place; the
    previous date is read in the same campaign.
    """
    if level not in LEVELS:
        raise KeyError(f"没有这个层级：{level}")
    as_of = as_of or default_as_of()
    metric_obj = m.get_metric(metric or m.DEFAULT_METRIC_BY_LEVEL[level])
    choice = page_campaign(scope_county(parent), as_of, requested=getattr(campaign, "pk", campaign))
    campaign = choice.campaign
    previous = previous_report_date(as_of)
    sums = _Sums(campaign, [_summary_day(campaign, as_of), _summary_day(campaign, previous)])
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
    return Ranking(level, parent, as_of, previous, metric_obj, choice, rows)


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
    sums = _Sums(choice.campaign, [_summary_day(choice.campaign, as_of), _summary_day(choice.campaign, previous)])
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


def registration_trend(until: dt.date, days: int = 120) -> dict:
    """注册率 per county on every county report date of the last ``days`` days: {dates, series}."""
    populations = dict(County.objects.values_list("pk", "population"))
    names = dict(County.objects.order_by("code").values_list("pk", "name"))
    reports = RegistrationReport.objects.filter(
        town__isnull=True, as_of__lte=until, as_of__gt=until - dt.timedelta(days=days)
    ).values_list("county_id", "as_of", "registered", "population")
    points = defaultdict(dict)
    dates = set()
    for county_id, day, registered, population in reports:
        pop = population or populations.get(county_id)
        dates.add(day)
        points[county_id][day] = m.BY_KEY["registration_rate"].value({"registered": registered, "population": pop})
    dates = sorted(dates)
    series = [{"name": names[pk], "values": [points[pk].get(day) for day in dates]} for pk in names if pk in points]
    return {"dates": dates, "series": series}


def progress_trend(campaign: Campaign | None, until: dt.date, county=None, step_days: int = 7) -> dict:
    """入户率 over the campaign (weekly points and ``until``) against the campaign's target."""
    if campaign is None:
        return {"dates": [], "series": [], "target": None}
    end = min(until, campaign.end_date)
    days = []
    day = campaign.start_date
    while day < end:
        days.append(day)
        day += dt.timedelta(days=step_days)
    days.append(end)
    qs = VillageDaySummary.objects.filter(campaign=campaign, day__in=days)
    if county is not None:
        qs = qs.filter(county=county)
    sums = {r["day"]: r for r in qs.order_by().values("day").annotate(h=Sum("households"), v=Sum("visited"))}
    values = []
    for day in days:
        r = sums.get(day)
        values.append(m.BY_KEY["visit_rate"].value({"visited": r["v"], "households": r["h"]}) if r else None)
    target = m.percent_target(campaign.target_visit_rate)
    return {"dates": days, "series": [{"name": m.BY_KEY["visit_rate"].name, "values": values}], "target": target}


# ------------------------------------------------------------------------------------------ chase lists


def members_without_visit(user, days: int, as_of: dt.date | None = None):
    """Active members in ``user``'s scope with no visit in the last ``days`` days (never visited first)."""
    as_of = as_of or timezone.localdate()
    cutoff = timezone.make_aware(dt.datetime.combine(as_of - dt.timedelta(days=days - 1), dt.time.min))
    last = Visit.objects.filter(visitor=OuterRef("pk")).order_by("-visited_at").values("visited_at")[:1]
    qs = scope_queryset(user, PartyMember.objects.filter(is_active=True))
    return (
        qs.annotate(last_visit=Subquery(last))
        .filter(Q(last_visit__isnull=True) | Q(last_visit__lt=cutoff))
        .select_related("organization", "county")
        .order_by(F("last_visit").asc(nulls_first=True), "pk")
    )


def households_never_visited(user, campaign: Campaign | None):
    """Households in ``user``'s scope with no visit in ``campaign``, vulnerable households first."""
    qs = scope_queryset(user, Household.objects.all())
    visits = Visit.objects.filter(household=OuterRef("pk"))
    if campaign is not None:
        visits = visits.filter(campaign=campaign)
    return (
        qs.filter(~Exists(visits))
        .with_vulnerable_first()
        .select_related("village", "town", "grid")
        .order_by("vulnerable_first", "village_id", "pk")
    )


def villages_below_target(user, campaign: Campaign | None, as_of: dt.date, limit: int = 300) -> tuple[list[dict], int]:
    """Villages in ``user``'s scope whose 入户率 on ``as_of`` is below the campaign target, lowest first
    (at most ``limit`` of them), and how many there are in all."""
    day = _summary_day(campaign, as_of)
    if day is None:
        return [], 0
    metric = m.BY_KEY["visit_rate"]
    target = m.percent_target(campaign.target_visit_rate)
    villages = scope_queryset(user, Village.objects.all())
    # visited ÷ households < target, compared in integers.
    below = (
        VillageDaySummary.objects.filter(campaign=campaign, day=day, village__in=villages.values("pk"))
        .annotate(done=F("visited") * target.denominator, needed=F("households") * target.numerator)
        .filter(households__gt=0, done__lt=F("needed"))
    )
    # The lowest first by the metric's exact value (a city has a few thousand villages: sorted here, not by a
    # float in SQL), then the page's rows fetched with their places.
    figures = list(below.values_list("pk", "visited", "households", "village__code"))
    figures.sort(key=lambda r: (metric.value({"visited": r[1], "households": r[2]}), r[3]))
    shown = [pk for pk, *_ in figures[:limit]]
    by_pk = VillageDaySummary.objects.select_related("village", "town", "county").in_bulk(shown)
    result = []
    for pk in shown:
        s = by_pk[pk]
        result.append(
            {
                "village": s.village,
                "town": s.town,
                "county": s.county,
                "households": s.households,
                "visited": s.visited,
                "display": metric.display({"visited": s.visited, "households": s.households}),
                "missing": max(0, _ceil(s.households * target) - s.visited),
            }
        )
    return result, len(figures)


def _ceil(value: m.Fraction) -> int:
    return -(-value.numerator // value.denominator)
