"""Which campaign a visit, a page, a bulletin or an import belongs to: the one rule (DESIGN.md "Campaigns").

A visit belongs to the campaign of the household's assignment held by the visitor, else to the one running
campaign covering the household's county. A campaign that has not started, or has ended, is never a default.
Where two campaigns run in one county nothing is picked silently: the phone asks which one, an import must name
one, and pages default to the widest one and say so beside their 活动 choice. Every page, export, bulletin,
command and the phone ask these functions; nothing else decides a campaign.

A campaign listing no county covers the whole city (so does one listing every county).

The rule is answered in Python from one snapshot of the campaign table (every campaign with its county ids, one
query). Inside a request the snapshot is taken at most once (``CampaignSnapshotMiddleware`` opens
``one_snapshot()``) and dropped when a campaign or its counties are saved in that request; outside one (commands,
background jobs, tests) every call reads the table afresh. Nothing is kept between requests or shared between
processes, so no answer is staler than the request asking. ``visit_campaign`` adds the one lookup of the
visitor's assignments (folded into the snapshot's query when the request has none yet).
"""

import datetime as dt
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Exists, OuterRef, Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from outreach.campaigns.models import Assignment, Campaign
from outreach.lib.rawrows import RowReader
from outreach.places.models import County


class CampaignRefused(ValueError):
    """No campaign can be taken without asking; the Chinese message names the candidates."""


@dataclass(frozen=True)
class CampaignChoice:
    """The campaign a page, a visit or an import uses, and why (``reason`` is shown to people)."""

    campaign: Campaign | None
    reason: str
    candidates: tuple = ()  # campaigns running on the day that cover the place, widest first
    options: tuple = ()  # what a page's 活动 choice lists
    picked: bool = False  # chosen by the person, not by the rule

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def _day_text(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _names(campaigns) -> str:
    return "、".join(f"“{c.name}”" for c in campaigns)


def _links():
    return Campaign.counties.through.objects.filter(campaign_id=OuterRef("pk"))


def covers_county(county_id) -> Q:
    """A filter on campaigns: the campaign covers this county (what ``_Snapshot.covering`` answers in Python)."""
    return Q(Exists(_links().filter(county_id=county_id))) | ~Q(Exists(_links()))


def covers_city() -> Q:
    """A filter on campaigns: the campaign covers every county of the city (the snapshot's ``whole_city``)."""
    unlisted = County.objects.filter(
        ~Exists(
            Campaign.counties.through.objects.filter(campaign_id=OuterRef(OuterRef("pk")), county_id=OuterRef("pk"))
        )
    )
    return ~Q(Exists(_links())) | ~Q(Exists(unlisted))


# -- the snapshot ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    """Every campaign, newest first (``-start_date``, ``-pk``: the order a 活动 choice lists them), each carrying
    ``county_ids`` (a frozenset, empty for a city-wide drive) and ``whole_city``."""

    campaigns: tuple

    def covering(self, county_id) -> list[Campaign]:
        """Campaigns covering the county (every county of the city when ``None``), newest first."""
        if county_id is None:
            return [c for c in self.campaigns if c.whole_city]
        return [c for c in self.campaigns if c.whole_city or county_id in c.county_ids]

    def running(self, county_id, day: dt.date) -> list[Campaign]:
        """Campaigns running on ``day`` that cover the county (the whole city when ``None``), widest first."""
        return _widest_first(c for c in self.covering(county_id) if c.start_date <= day <= c.end_date)


# The snapshot of the request being answered: a list opened by ``one_snapshot()``, None outside one. Its first
# slot is the snapshot, its second ((household id, member id), campaign ids) when the read that took the snapshot
# also asked which campaigns that member holds that household in (``keep_snapshot``).
_memo: ContextVar[list | None] = ContextVar("campaign_snapshot", default=None)


@contextmanager
def one_snapshot():
    """Answer every campaign question inside the block from one read of the campaign table (a request's)."""
    token = _memo.set([None, None])
    try:
        yield
    finally:
        _memo.reset(token)


@receiver(post_save, sender=Campaign, dispatch_uid="campaign_rule_snapshot_saved")
@receiver(post_delete, sender=Campaign, dispatch_uid="campaign_rule_snapshot_deleted")
@receiver(m2m_changed, sender=Campaign.counties.through, dispatch_uid="campaign_rule_snapshot_counties")
def _forget(**kwargs):
    """A campaign changed inside this request: the next question reads the table again."""
    slot = _memo.get()
    if slot is not None:
        slot[0] = slot[1] = None


def _snapshot_sql(held: bool, using: str = DEFAULT_DB_ALIAS, member_of_user: bool = False) -> str:
    """The snapshot's statement: every campaign row with one linked county id per row (none for a city-wide
    drive), whether it lists every county (``covers_city``) and, with ``held``, whether the member (second
    parameter; with ``member_of_user``, the party member of that user) holds the household (first) in it.
    Written once as SQL: compiling it as a queryset cost each visit POST about 3 ms of CPU."""
    key = (using, held, member_of_user)
    sql = _SQL.get(key)
    if sql is None:
        quote = connections[using].ops.quote_name
        links = Campaign.counties.through._meta
        assignment = Assignment._meta
        held_sql = ""
        if held:
            member = "%s"
            if member_of_user:
                members = Assignment._meta.get_field("member").related_model._meta
                member = (
                    f"(SELECT {quote(members.pk.column)} FROM {quote(members.db_table)}"
                    f" WHERE {quote(members.get_field('user').column)} = %s)"
                )
            held_sql = (
                f", EXISTS(SELECT 1 FROM {quote(assignment.db_table)} a WHERE a.{quote('campaign_id')} = c.{quote('id')}"
                f" AND a.{quote('household_id')} = %s AND a.{quote('member_id')} = {member})"
            )
        sql = (
            f"SELECT {_CAMPAIGN_ROWS.columns('c', using)}, l.{quote('county_id')},"
            f" NOT EXISTS(SELECT 1 FROM {quote(County._meta.db_table)} k WHERE NOT EXISTS("
            f"SELECT 1 FROM {quote(links.db_table)} m WHERE m.{quote('campaign_id')} = c.{quote('id')}"
            f" AND m.{quote('county_id')} = k.{quote('id')})){held_sql}"
            f" FROM {quote(Campaign._meta.db_table)} c"
            f" LEFT OUTER JOIN {quote(links.db_table)} l ON l.{quote('campaign_id')} = c.{quote('id')}"
            f" ORDER BY c.{quote('start_date')} DESC, c.{quote('id')} DESC"
        )
        _SQL[key] = sql
    return sql


_CAMPAIGN_ROWS = RowReader(Campaign)
_SQL: dict = {}


def _snapshot(held_by: tuple[int, int] | None = None) -> tuple[_Snapshot, set[int]]:
    """The snapshot (the request's, else read now) and, for ``held_by`` = (household id, member id), the ids of
    the campaigns in which that member holds that household: one query, or none when the request has its
    snapshot and no holder is asked about (or the holder's campaigns were read with it, ``keep_snapshot``). A
    campaign covers the whole city when it lists no county or every
    county (``covers_city``)."""
    slot = _memo.get()
    snapshot = slot[0] if slot is not None else None
    if snapshot is not None:
        if held_by is None:
            return snapshot, set()
        if slot[1] is not None and slot[1][0] == held_by:
            # Read with the snapshot, for the one visit_campaign it was read for: taken once, never kept.
            held, slot[1] = slot[1][1], None
            return snapshot, set(held)
        household_id, member_id = held_by
        held = Assignment.objects.filter(household_id=household_id, member_id=member_id)
        return snapshot, set(held.values_list("campaign_id", flat=True))
    using = router.db_for_read(Campaign)
    with connections[using].cursor() as cursor:
        cursor.execute(_snapshot_sql(held_by is not None, using), list(held_by or ()))
        rows = cursor.fetchall()
    snapshot, held = _from_rows(rows, using, held_by is not None)
    if slot is not None:
        slot[0] = snapshot
    return snapshot, held


def snapshot_statement(using: str) -> str | None:
    """For a caller sending its own statement in the same round trip (the phone's visit POST): the snapshot's
    statement, its parameters (household id, user id) asking which campaigns the party member of that user holds
    that household in; None when there is nothing to read (no request snapshot open, or it is taken already).
    The rows go back to ``keep_snapshot``."""
    slot = _memo.get()
    if slot is None or slot[0] is not None or using != router.db_for_read(Campaign):
        return None
    return _snapshot_sql(True, using, member_of_user=True)


def keep_snapshot(rows, using: str, household_id: int, member_id: int | None) -> None:
    """Keep the rows of ``snapshot_statement`` as the request's snapshot, and, for the next ``visit_campaign`` of
    this household by this member, the campaigns the member holds it in (None: the user is no member)."""
    slot = _memo.get()
    if slot is None:
        return
    snapshot, held = _from_rows(rows, using, True)
    slot[0] = snapshot
    slot[1] = ((household_id, member_id), frozenset(held)) if member_id is not None else None


def _from_rows(rows, using: str, with_held: bool) -> tuple[_Snapshot, set[int]]:
    width = len(_CAMPAIGN_ROWS.fields)
    campaigns, linked, whole, held = {}, {}, {}, set()
    for row in rows:
        pk = row[0]
        if pk not in campaigns:
            campaigns[pk] = _CAMPAIGN_ROWS.instance(row, using)
            linked[pk], whole[pk] = set(), row[width + 1]
        if row[width] is not None:
            linked[pk].add(row[width])
        if with_held and row[width + 2]:
            held.add(pk)
    for pk, campaign in campaigns.items():
        campaign.county_ids = frozenset(linked[pk])
        campaign.whole_city = not linked[pk] or bool(whole[pk])
    return _Snapshot(tuple(campaigns.values())), held


def _widest_first(campaigns) -> list[Campaign]:
    """A city-wide drive before a county's own 专项, then the one that started first."""
    return sorted(campaigns, key=lambda c: (not c.whole_city, c.start_date, c.pk))


def all_campaigns() -> list[Campaign]:
    """Every campaign, newest first, each with ``county_ids`` and ``whole_city`` (from the request's snapshot)."""
    return list(_snapshot()[0].campaigns)


def running_campaigns(county_id=None, day: dt.date | None = None) -> list[Campaign]:
    """Campaigns running on ``day`` (today) that cover the county (the whole city when ``None``), widest first."""
    return _snapshot()[0].running(county_id, day or timezone.localdate())


def any_running(day: dt.date | None = None) -> bool:
    """Whether any campaign runs on ``day`` (today), wherever it runs."""
    day = day or timezone.localdate()
    return any(c.start_date <= day <= c.end_date for c in _snapshot()[0].campaigns)


def page_campaign(county: County | None = None, day: dt.date | None = None, requested=None) -> CampaignChoice:
    """The campaign a ranking, chase list, trend or bulletin of ``county`` (the city when ``None``) shows on ``day``.

    ``requested`` (a campaign id from the page's 活动 choice) wins when it is one of the options. Otherwise the
    one running campaign covering the place; of several, the widest, and the page says so.
    """
    day = day or timezone.localdate()
    county_id = county.pk if county is not None else None
    snapshot = _snapshot()[0]
    options = snapshot.campaigns if county is None else tuple(snapshot.covering(county_id))
    candidates = tuple(snapshot.running(county_id, day))
    place = county.name if county is not None else "全市"
    try:
        wanted = int(requested) if requested not in (None, "") else None
    except (TypeError, ValueError):
        wanted = None
    chosen = next((c for c in options if c.pk == wanted), None)
    if chosen is not None:
        return CampaignChoice(chosen, f"按所选活动“{chosen.name}”统计", candidates, options, picked=True)
    if not candidates:
        reason = (
            f"{_day_text(day)}没有覆盖{place}的进行中活动（未开始或已结束的活动不作默认），走访类数字为空；"
            "可在“活动”中选择一个活动查看"
        )
        return CampaignChoice(None, reason, candidates, options)
    first = candidates[0]
    if len(candidates) == 1:
        reason = f"“{first.name}”是{_day_text(day)}唯一覆盖{place}的进行中活动"
    else:
        why = "覆盖全市的" if first.whole_city and not candidates[1].whole_city else "开始最早的"
        reason = (
            f"{_day_text(day)}{place}有{len(candidates)}个进行中的活动（{_names(candidates)}），"
            f"默认取{why}“{first.name}”，可在“活动”中改选"
        )
    return CampaignChoice(first, reason, candidates, options)


def visit_campaign(household, day: dt.date, visitor_id=None, requested=None) -> CampaignChoice:
    """The campaign a visit to ``household`` on ``day`` by party member ``visitor_id`` belongs to (one query).

    The campaign of the household's assignment held by the visitor (running on ``day``), else the one running
    campaign covering the household's county. ``campaign`` is ``None`` when none runs, or when several do and
    the phone must ask (``candidates`` lists them). ``requested`` (the id the phone form sent) is taken when it
    covers the county or the visitor holds the household in it.
    """
    snapshot, held = _snapshot((household.pk, visitor_id) if visitor_id else None)
    covering = {c.pk for c in snapshot.covering(household.county_id)}
    if requested not in (None, ""):
        try:
            wanted = int(requested)
        except (TypeError, ValueError):
            wanted = 0
        chosen = next((c for c in snapshot.campaigns if c.pk == wanted and (c.pk in held or c.pk in covering)), None)
        if chosen is None:
            return CampaignChoice(None, "所选活动不包括这一户所在的县（市、区），请刷新页面后重新选择")
        return CampaignChoice(chosen, f"按所选活动“{chosen.name}”记录", picked=True)
    found = _widest_first(
        c for c in snapshot.campaigns if c.start_date <= day <= c.end_date and (c.pk in held or c.pk in covering)
    )
    mine = [c for c in found if c.pk in held]
    if len(mine) == 1:
        return CampaignChoice(mine[0], f"您在活动“{mine[0].name}”中包联这一户", tuple(mine))
    candidates = tuple(mine or found)
    if len(candidates) == 1:
        return CampaignChoice(candidates[0], f"“{candidates[0].name}”是{_day_text(day)}唯一覆盖本县的进行中活动")
    if not candidates:
        return CampaignChoice(None, f"{_day_text(day)}没有覆盖本县的进行中活动，请联系县里管理员")
    return CampaignChoice(
        None,
        f"{_day_text(day)}本县有{len(candidates)}个进行中的活动（{_names(candidates)}），请选择本次走访记入哪个活动",
        candidates,
    )


def import_campaign(title: str = "", county=None, name: str | None = None, day: dt.date | None = None) -> Campaign:
    """The campaign a 责任分工表 of ``county`` is imported into (or exported from); raises ``CampaignRefused``.

    The campaign ``name``d, else the one named in the sheet's ``title`` (the longest name found), else the one
    running campaign covering the county today. Several running, or none: refused, naming the candidates.
    """
    day = day or timezone.localdate()
    snapshot = _snapshot()[0]
    if name:
        found = next((c for c in snapshot.campaigns if c.name == name), None)
        if found is None:
            raise CampaignRefused(f"没有名为“{name}”的活动（现有：{_names(snapshot.campaigns) or '无'}）")
        return found
    named = [c for c in snapshot.campaigns if c.name and c.name in (title or "")]
    if named:
        return max(named, key=lambda c: (len(c.name), c.start_date, c.pk))
    county_id = getattr(county, "pk", county)
    place = county.name if hasattr(county, "name") else "本县"
    candidates = snapshot.running(county_id, day)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise CampaignRefused(
            f"{_day_text(day)}{place}有{len(candidates)}个进行中的活动（{_names(candidates)}），"
            "表格标题没有写明是哪一个：请在标题中写明活动名称，或导入时选择活动"
        )
    others = snapshot.campaigns if county_id is None else snapshot.covering(county_id)
    if not others:
        raise CampaignRefused("系统中还没有活动（如“十万党员进百万家”）：请先在后台“活动”中新建")
    raise CampaignRefused(
        f"{_day_text(day)}没有覆盖{place}的进行中活动（未开始或已结束的活动不作默认）："
        f"请在标题中写明活动名称，或导入时选择活动（{place}的活动：{_names(others)}）"
    )


def visit_may_belong(campaign: Campaign, household, visitor_id=None) -> bool:
    """Whether a visit to ``household`` by party member ``visitor_id`` may be recorded under ``campaign``: the
    campaign covers the household's county, or the visitor holds the household in it (as ``visit_campaign``
    takes a requested campaign). The admin's visit form asks this; the phone asks ``visit_campaign``."""
    if any(c.pk == campaign.pk for c in _snapshot()[0].covering(household.county_id)):
        return True
    held = Assignment.objects.filter(campaign=campaign, household_id=household.pk, member_id=visitor_id)
    return bool(visitor_id) and held.exists()
