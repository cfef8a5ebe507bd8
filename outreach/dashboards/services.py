"""Writes of the dashboards area: the summary rows the rankings read, and issuing a 通报.

Summary rows are derived data. ``field_data_changed`` marks villages stale (one cheap INSERT, so a visit POST
stays fast) and, on commit, queues one ``tasks.refresh_summaries`` job for ``db_worker``; ``refresh_pending``
rebuilds the stale villages (and the party organizations whose members or households touch them) in a fixed
number of queries. Queries never refresh: a page that reads summaries first calls ``ensure_fresh_summaries``,
which rebuilds only marks older than ``DASHBOARD_REFRESH_GRACE_SECONDS`` (the worker is behind or down), so
figures are never staler than that. ``rebuild_summaries`` rebuilds everything, e.g. after a bulk load
(``python manage.py refresh_summaries --all``).
"""

import datetime as dt
from collections import defaultdict

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from outreach.campaigns.models import Assignment, Campaign
from outreach.dashboards import ranking_cache
from outreach.dashboards.models import (
    OrganizationDaySummary,
    PendingOrganization,
    PendingVillage,
    VillageDaySummary,
)
from outreach.lib.jobs import mark_new
from outreach.people.models import Household, PartyMember, PartyOrganization
from outreach.places.models import Village
from outreach.visits.models import FLAGGED_STATUSES, Visit

BATCH = 2000
COUNTED = ["households", "assigned", "visited", "signed", "visits", "qualified_visits", "flagged_visits"]
VISIT_SUMS = ["app_installed", "app_registered", "app_verified", "alerts_enabled"]
# The roster dates a summary counts by (``people.models.on_roster_q`` is the same rule for one day).
ROSTER = ("roster_start", "roster_end")
MEMBER_ROSTER = ("joined_on", "left_on")


def campaign_days(campaign: Campaign) -> list[dt.date]:
    days = (campaign.end_date - campaign.start_date).days + 1
    return [campaign.start_date + dt.timedelta(days=i) for i in range(days)]


def mark_villages_stale(village_ids, then=None) -> int | None:
    """Note villages whose summary rows must be rebuilt before the next ranking is read; return how many of them
    were not marked yet (0 when every one already waits for a refresh).

    One ``INSERT … ON CONFLICT DO NOTHING``: a village already marked keeps its mark (and its time), and the
    writer that made that mark queued the refresh that will take it, so the caller needs to queue one only when
    this call made a new mark. With ``then`` the number goes to ``then`` instead, once known (``mark_new``).
    """
    # Callers pass village ids read from foreign keys, so they exist: no query to check them.
    ids = sorted({int(v) for v in village_ids or () if v})
    return mark_new(PendingVillage, [(v,) for v in ids], ("village",), then=then)


def mark_organizations_stale(organization_ids, then=None) -> int | None:
    """Note party organizations whose members changed: their rows (and nothing else) are rebuilt next.

    Villages reach their organizations through the village mark; an agency branch (县农机发展中心党支部) is
    tied to no village, so a write of its members marks the organization itself. Returns how many marks are
    new (as ``mark_villages_stale``, ``then`` too)."""
    ids = sorted({int(o) for o in organization_ids or () if o})
    return mark_new(PendingOrganization, [(o,) for o in ids], ("organization",), then=then)


def has_pending(older_than_seconds: int = 0) -> bool:
    """Whether any village or organization is marked stale (asked of the primary, which was just written),
    with ``older_than_seconds`` only marks at least that old; one query (UNION ALL … LIMIT 1 stops at the
    first row), since every ranking page asks it first."""
    villages = PendingVillage.objects.using(DEFAULT_DB_ALIAS)
    orgs = PendingOrganization.objects.using(DEFAULT_DB_ALIAS)
    if older_than_seconds > 0:
        cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
        villages, orgs = villages.filter(marked_at__lte=cutoff), orgs.filter(marked_at__lte=cutoff)
    return bool(villages.values_list("pk").union(orgs.values_list("pk"), all=True)[:1])


def refresh_pending(older_than_seconds: int = 0, wait: bool = False) -> int:
    """Rebuild the summary rows of every village and organization marked stale; return how many were refreshed.

    With ``older_than_seconds`` nothing is done unless some mark is at least that old (then every stale
    village and organization is rebuilt). When another refresh holds the lock, ``wait`` waits for it and then
    takes the marks left (the worker: a mark it skipped would wait for the next visit); otherwise the rows are
    read as they are.
    """
    if not has_pending(older_than_seconds):
        return 0
    with transaction.atomic():
        if not _lock_summaries(wait=wait):
            return 0  # another request is refreshing right now; read the rows as they are
        villages = list(PendingVillage.objects.select_for_update().values_list("village_id", flat=True))
        orgs = list(PendingOrganization.objects.select_for_update().values_list("organization_id", flat=True))
        if not villages and not orgs:
            return 0
        PendingVillage.objects.filter(village_id__in=villages).delete()
        PendingOrganization.objects.filter(organization_id__in=orgs).delete()
        _refresh(village_ids=set(villages), organization_ids=set(orgs))
        # The writes moved the kept rankings' number already; once more after commit (ranking_cache.py).
        transaction.on_commit(ranking_cache.changed)
    return len(villages) + len(orgs)


def ensure_fresh_summaries(grace_seconds: int | None = None, wait: bool = False) -> int:
    """The one freshness call before summaries are read (ranking, chase and trend pages, ``leaderboard``, a
    通报): rebuild every stale village once some mark is older than the grace, return how many were rebuilt.

    Within ``DASHBOARD_REFRESH_GRACE_SECONDS`` (``grace_seconds`` overrides it) the queued job is left to do it,
    so a page read after a visit stays a read; older marks mean the worker is behind or not running.
    """
    grace = settings.DASHBOARD_REFRESH_GRACE_SECONDS if grace_seconds is None else grace_seconds
    return refresh_pending(older_than_seconds=grace, wait=wait)


@transaction.atomic
def rebuild_summaries(campaign: Campaign | None = None) -> dict[str, int]:
    """Rebuild every summary row from the source tables (all campaigns unless one is given)."""
    campaigns = [campaign] if campaign else list(Campaign.objects.all())
    counts = {"活动": 0, "村每日汇总": 0, "党组织每日汇总": 0}
    _lock_summaries(wait=True)
    PendingVillage.objects.all().delete()
    PendingOrganization.objects.all().delete()
    for c in campaigns:
        VillageDaySummary.objects.filter(campaign=c).delete()
        OrganizationDaySummary.objects.filter(campaign=c).delete()
        counts["村每日汇总"] += _write_villages(c, None)
        counts["党组织每日汇总"] += _write_organizations(c, None)
        counts["活动"] += 1
    transaction.on_commit(ranking_cache.changed)
    return counts


def vacuum_summaries() -> bool:
    """After a full rebuild: VACUUM (ANALYZE) both summary tables on PostgreSQL, outside any transaction.

    The rankings' covering indexes answer from the index alone only for pages the visibility map marks
    all-visible; freshly rewritten rows are not until a VACUUM, so without one (autovacuum off or not yet round)
    every row is fetched from the heap again. Returns whether it ran (not on SQLite, not inside a transaction).
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        for model in (VillageDaySummary, OrganizationDaySummary):
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(model._meta.db_table)}")
    return True


# Any constant of our own: one refresh or rebuild at a time, so two never delete and re-insert the same rows.
_LOCK_KEY = 7_202_108_13


def _lock_summaries(wait: bool) -> bool:
    """Take the summaries' transaction-scoped lock on PostgreSQL (SQLite serialises writers already)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _refresh(village_ids: set[int], organization_ids: set[int] = frozenset()) -> None:
    """Rebuild the rows of ``village_ids`` and of every organization they touch, plus ``organization_ids``."""
    org_ids = set(organization_ids)
    org_ids |= set(PartyOrganization.objects.filter(village_id__in=village_ids).values_list("pk", flat=True))
    org_ids |= set(
        Assignment.objects.filter(household__village_id__in=village_ids)
        .values_list("member__organization_id", flat=True)
        .distinct()
    )
    org_ids |= set(
        Visit.objects.filter(_visit_places(village_ids), visitor__isnull=False)
        .values_list("visitor__organization_id", flat=True)
        .distinct()
    )
    county_ids = set(Village.objects.filter(pk__in=village_ids).values_list("county_id", flat=True))
    for c in Campaign.objects.all():
        # Organizations not tied to a village (agency branches) with no rows yet come along too.
        missing = PartyOrganization.objects.filter(county_id__in=county_ids).exclude(
            pk__in=OrganizationDaySummary.objects.filter(campaign=c, day=c.start_date).values("organization_id")
        )
        org_ids = org_ids | set(missing.values_list("pk", flat=True))
        if village_ids:
            VillageDaySummary.objects.filter(campaign=c, village_id__in=village_ids).delete()
            _write_villages(c, village_ids)
        OrganizationDaySummary.objects.filter(campaign=c, organization_id__in=org_ids).delete()
        _write_organizations(c, org_ids)


def _visit_places(village_ids) -> Q:
    """Visits of these villages, spelled so the (county, town, village) index answers it."""
    places = list(Village.objects.filter(pk__in=village_ids).values_list("county_id", "town_id"))
    return Q(county_id__in={c for c, _ in places}, town_id__in={t for _, t in places}, village_id__in=village_ids)


def _county_filter(campaign: Campaign, prefix: str = "") -> Q:
    county_ids = list(campaign.counties.values_list("pk", flat=True))
    return Q(**{f"{prefix}county_id__in": county_ids}) if county_ids else Q()


def _first_visit_day(campaign, household_ref: str, **conditions):
    """The local date of a household's first visit in ``campaign`` meeting ``conditions`` (a subquery)."""
    first = (
        Visit.objects.filter(campaign=campaign, household=OuterRef(household_ref), **conditions)
        .order_by("visited_at")
        .values("visited_at")[:1]
    )
    return TruncDate(Subquery(first))


class _Accumulator:
    """Per-unit daily increments turned into dense cumulative rows, one per campaign day."""

    def __init__(self, campaign: Campaign, fields: list[str]):
        self.days = campaign_days(campaign)
        self.start, self.end = self.days[0], self.days[-1]
        self.fields = fields
        self.constant: dict[int, dict[str, int]] = defaultdict(dict)
        self.steps: dict[int, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))

    def index(self, day) -> int:
        if day is None or day <= self.start:
            return 0
        if day >= self.end:
            return len(self.days) - 1
        return (day - self.start).days

    def add(self, unit: int, day, field: str, value) -> None:
        if value:
            self.steps[unit][self.index(day)][field] += int(value)

    def span(self, unit: int, field: str, value, start, end, since=None) -> None:
        """``value`` counted on every day D with start ≤ D < end (``end`` None: open), and since ≥ ``since``.

        A roster's entry and exit as two steps: so a household struck off today leaves every earlier day's
        figure as it was, and one added today never reaches a day before.
        """
        if not value or (start is not None and start > self.end):
            return
        begin = max(d for d in (start, since) if d is not None) if (start or since) else None
        if end is not None and begin is not None and end <= begin:
            return
        self.add(unit, begin, field, value)
        if end is not None and end <= self.end:
            self.add(unit, end, field, -value)

    def rows(self, unit: int):
        running = dict.fromkeys(self.fields, 0)
        running.update(self.constant.get(unit, {}))
        steps = self.steps.get(unit, {})
        for i, day in enumerate(self.days):
            for field, value in steps.get(i, {}).items():
                running[field] += value
            yield day, running

    def units(self) -> set[int]:
        return set(self.constant) | set(self.steps)


def _write_villages(campaign: Campaign, village_ids: set[int] | None) -> int:
    households = Household.objects.filter(_county_filter(campaign))
    visits = Visit.objects.filter(campaign=campaign)
    assignments = Assignment.objects.filter(campaign=campaign)
    if village_ids is not None:
        households = households.filter(village_id__in=village_ids)
        visits = visits.filter(_visit_places(village_ids))
        assignments = assignments.filter(household__village_id__in=village_ids)
    acc = _Accumulator(campaign, COUNTED + VISIT_SUMS)
    # Households, and the assigned and visited among them, count on the days they were on the roster.
    for village, start, end, n in households.order_by().values_list("village", *ROSTER).annotate(n=Count("pk")):
        acc.span(village, "households", n, start, end)
    roster = [f"household__{f}" for f in ROSTER]
    for village, start, end, n in (
        assignments.order_by().values_list("household__village", *roster).annotate(n=Count("pk"))
    ):
        acc.span(village, "assigned", n, start, end)
    for field, conditions in (("visited", {"is_qualified": True}), ("signed", {"signed": True})):
        rows = (
            households.annotate(first=_first_visit_day(campaign, "pk", **conditions))
            .filter(first__isnull=False)
            .order_by()
            .values_list("village", "first", *ROSTER)
            .annotate(n=Count("pk"))
        )
        for village, day, start, end, n in rows:
            acc.span(village, field, n, start, end, since=day)
    for row in (
        visits.annotate(day=TruncDate("visited_at"))
        .order_by()
        .values("village", "day")
        .annotate(
            n=Count("pk"),
            q=Count("pk", filter=Q(is_qualified=True)),
            flagged=Count("pk", filter=Q(integrity__in=FLAGGED_STATUSES)),
            **{f"s_{f}": Sum(f) for f in VISIT_SUMS},
        )
    ):
        acc.add(row["village"], row["day"], "visits", row["n"])
        acc.add(row["village"], row["day"], "qualified_visits", row["q"])
        acc.add(row["village"], row["day"], "flagged_visits", row["flagged"])
        for f in VISIT_SUMS:
            acc.add(row["village"], row["day"], f, row[f"s_{f}"])
    places = {
        pk: (county, town)
        for pk, county, town in Village.objects.filter(pk__in=acc.units()).values_list("pk", "county_id", "town_id")
    }
    fields = COUNTED + VISIT_SUMS
    columns = ["campaign_id", "day", "county_id", "town_id", "village_id", *fields]

    def rows():
        for village in sorted(acc.units()):
            county, town = places[village]
            for day, figures in acc.rows(village):
                yield (campaign.pk, day, county, town, village, *(figures[f] for f in fields))

    return _insert(VillageDaySummary, columns, rows())


def _write_organizations(campaign: Campaign, org_ids: set[int] | None) -> int:
    orgs = PartyOrganization.objects.filter(_county_filter(campaign))
    if org_ids is not None:
        orgs = orgs.filter(pk__in=org_ids)
    org_places = {
        pk: (county, town, village)
        for pk, county, town, village in orgs.values_list("pk", "county_id", "town_id", "village_id")
    }
    if not org_places:
        return 0
    ids = list(org_places)
    # Members count on the days they were on the member roster (列入名册 to 离开); 在岗 is today's availability
    # for chase lists and hand-overs and changes no day's figure.
    members = PartyMember.objects.filter(organization_id__in=ids)
    assignments = Assignment.objects.filter(campaign=campaign, member__organization_id__in=ids)
    visits = Visit.objects.filter(campaign=campaign, visitor__organization_id__in=ids)
    acc = _Accumulator(campaign, COUNTED + VISIT_SUMS + ["members", "active_members"])
    for org in ids:
        acc.constant[org]  # every organization gets rows, even without members yet
    for org, start, end, n in members.order_by().values_list("organization", *MEMBER_ROSTER).annotate(n=Count("pk")):
        acc.span(org, "members", n, start, end)
    first_member_visit = (
        Visit.objects.filter(campaign=campaign, visitor=OuterRef("pk"), is_qualified=True)
        .order_by("visited_at")
        .values("visited_at")[:1]
    )
    for org, day, start, end, n in (
        members.annotate(first=TruncDate(Subquery(first_member_visit)))
        .filter(first__isnull=False)
        .order_by()
        .values_list("organization", "first", *MEMBER_ROSTER)
        .annotate(n=Count("pk"))
    ):
        acc.span(org, "active_members", n, start, end, since=day)
    roster = [f"household__{f}" for f in ROSTER]
    for org, start, end, n in (
        assignments.order_by().values_list("member__organization", *roster).annotate(n=Count("pk"))
    ):
        acc.span(org, "households", n, start, end)
        acc.span(org, "assigned", n, start, end)
    for field, conditions in (("visited", {"is_qualified": True}), ("signed", {"signed": True})):
        for org, day, start, end, n in (
            assignments.annotate(first=_first_visit_day(campaign, "household_id", **conditions))
            .filter(first__isnull=False)
            .order_by()
            .values_list("member__organization", "first", *roster)
            .annotate(n=Count("pk"))
        ):
            acc.span(org, field, n, start, end, since=day)
    for row in (
        visits.annotate(day=TruncDate("visited_at"))
        .order_by()
        .values("visitor__organization", "day")
        .annotate(
            n=Count("pk"),
            q=Count("pk", filter=Q(is_qualified=True)),
            flagged=Count("pk", filter=Q(integrity__in=FLAGGED_STATUSES)),
            **{f"s_{f}": Sum(f) for f in VISIT_SUMS},
        )
    ):
        org = row["visitor__organization"]
        acc.add(org, row["day"], "visits", row["n"])
        acc.add(org, row["day"], "qualified_visits", row["q"])
        acc.add(org, row["day"], "flagged_visits", row["flagged"])
        for f in VISIT_SUMS:
            acc.add(org, row["day"], f, row[f"s_{f}"])
    fields = COUNTED + VISIT_SUMS + ["members", "active_members"]
    columns = ["campaign_id", "day", "organization_id", "county_id", "town_id", "village_id", *fields]

    def rows():
        for org in sorted(acc.units()):
            county, town, village = org_places[org]
            for day, figures in acc.rows(org):
                yield (campaign.pk, day, org, county, town, village, *(figures[f] for f in fields))

    return _insert(OrganizationDaySummary, columns, rows())


def _insert(model, columns: list[str], rows) -> int:
    """Insert ``rows`` (tuples in ``columns`` order, attnames): COPY on PostgreSQL (~10× the ORM's
    bulk_create at 900,000 summary rows), batched bulk_create elsewhere."""
    written = 0
    if connection.vendor == "postgresql":
        names = ", ".join(connection.ops.quote_name(c) for c in columns)
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(model._meta.db_table)
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
        return written
    batch = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        if len(batch) >= BATCH:
            model.objects.bulk_create(batch)
            written += len(batch)
            batch = []
    model.objects.bulk_create(batch)
    return written + len(batch)


# --------------------------------------------------------------------------------------------- bulletins
