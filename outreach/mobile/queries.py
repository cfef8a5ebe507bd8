"""Reads of the phone pages and of the review pages, returning plain data for thin views."""

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Value
from django.db.models.expressions import RawSQL

from outreach.accounts.privacy import display_phone, sees_full_phones
from outreach.accounts.scoping import scope_queryset, scope_sql
from outreach.campaigns import rules
from outreach.lib import metrics
from outreach.lib.rawrows import RowReader
from outreach.mobile.models import CallbackCheck
from outreach.people.models import VULNERABLE_FIELDS, Household, PartyMember, Resident, vulnerable_labels
from outreach.visits.models import FraudType, Visit

PAGE_SIZE = 20


def _app_badge(has_residents: bool, unregistered: bool, any_registered: bool, visit_registered: bool) -> str:
    """The household's App state, from its residents (the same flags the 还缺 list reads): 已注册 when every
    resident is, 部分注册 when some are; a visit's 现场注册 figure speaks only for a household with no roster."""
    if has_residents:
        if not unregistered:
            return "App已注册"
        return "App部分注册" if any_registered else ""
    return "App已注册" if visit_registered else ""


def _states(visited, signed, app_badge: str) -> list[str]:
    states = ["已走访"] if visited else ["未走访"]
    if signed:
        states.append("已签承诺书")
    if app_badge:
        states.append(app_badge)
    return states


def my_households(user, campaign, q: str = "", unvisited: bool = False, page: int = 1) -> dict:
    """One page of the user's households, vulnerable first, each with its state; no COUNT(*) is run.

    ``campaign`` limits which visits count for the state (``None``: any visit).
    """
    visits = Visit.objects.filter(household=OuterRef("pk"))
    if campaign is not None:
        visits = visits.filter(campaign=campaign)
    households = (
        scope_queryset(user, Household.objects.on_roster())
        .with_vulnerable_first()
        .annotate(
            visited=Exists(visits),
            signed=Exists(visits.filter(signed=True)),
            has_residents=Exists(Resident.objects.filter(household=OuterRef("pk"))),
            unregistered=Exists(Resident.objects.filter(household=OuterRef("pk"), app_registered=False)),
            any_registered=Exists(Resident.objects.filter(household=OuterRef("pk"), app_registered=True)),
            visit_registered=Exists(visits.filter(app_registered__gt=0)),
        )
    )
    q = q.strip()
    if q:
        match = Q(head_name__contains=q) | Q(address__contains=q)
        if sees_full_phones(user):
            # Only roles that see full numbers find a household by one: for the others it would be a reveal.
            match |= Q(phone=q)
        households = households.filter(match)
    if unvisited:
        households = households.filter(visited=False)
    start = (page - 1) * PAGE_SIZE
    rows = list(
        households.order_by("vulnerable_first", "village_id", "head_name", "id").values(
            "id",
            "head_name",
            "address",
            "phone",
            "size",
            "village__short_name",
            "visited",
            "signed",
            "has_residents",
            "unregistered",
            "any_registered",
            "visit_registered",
            *VULNERABLE_FIELDS,
        )[start : start + PAGE_SIZE + 1]
    )
    has_next = len(rows) > PAGE_SIZE
    return {
        "rows": [
            {
                "id": row["id"],
                "head_name": row["head_name"],
                "address": row["address"],
                "phone": display_phone(user, row["phone"]),
                "village": row["village__short_name"],
                "tags": vulnerable_labels(row),
                "visited": row["visited"],
                "states": _states(
                    row["visited"],
                    row["signed"],
                    _app_badge(
                        row["has_residents"], row["unregistered"], row["any_registered"], row["visit_registered"]
                    ),
                ),
            }
            for row in rows[:PAGE_SIZE]
        ],
        "page": page,
        "has_next": has_next,
        "has_previous": page > 1,
    }


_TARGET = RowReader(Household, ("id", "county", "town", "village", "grid"))


def _sends_several(connection) -> bool:
    """Whether ``execute`` may carry two statements in one round trip: psycopg 3's client-side binding cursor
    (Django's default on PostgreSQL), whose results ``nextset()`` walks."""
    if connection.vendor != "postgresql":
        return False
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3 and not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")


def visit_target(user, household_id: int, script_ids) -> Household | None:
    """The household a phone's visit names, if it is in ``user``'s scope, else None; one query for the three
    things a visit POST must read before it writes.

    The household comes with its places only (what ``record_visit`` copies onto the visit) and two answers
    read in the same statement: ``visitor_id``, the party member behind ``user``'s login (None for a grid
    worker without one), and ``active_scripts``, how many of ``script_ids`` are fraud scripts still active.
    Written as SQL with the scope's condition (``scope_sql``) where the user's scope is a column of the
    household: compiling the queryset cost the POST more CPU than the statement itself. A scope that follows
    a relation (a party member's assignments) goes through ``scope_queryset``. On PostgreSQL the campaign
    rule's snapshot statement (``rules.snapshot_statement``) goes in the same round trip when the request has
    not read it yet, so ``visit_campaign`` then asks nothing.
    """
    quote = connection.ops.quote_name
    member = PartyMember._meta
    visitor_sql = f"SELECT {quote(member.pk.column)} FROM {quote(member.db_table)} WHERE {quote('user_id')} = %s"
    script_ids = list(script_ids or ())
    scripts = FraudType._meta
    active_sql = (
        f"SELECT COUNT(*) FROM {quote(scripts.db_table)} WHERE {quote('is_active')} "
        f"AND {quote(scripts.pk.column)} IN ({', '.join(['%s'] * len(script_ids))})"
    )
    scope = scope_sql(user, Household, "h", connection)
    if scope is None:
        visitor = RawSQL(visitor_sql, [user.pk], output_field=IntegerField())
        if script_ids:
            active = RawSQL(active_sql, script_ids, output_field=IntegerField())
        else:
            active = Value(0, output_field=IntegerField())
        households = scope_queryset(user, Household.objects.only("id", "county_id", "town_id", "village_id", "grid_id"))
        return households.annotate(visitor_id=visitor, active_scripts=active).filter(pk=household_id).first()
    condition, params = scope
    sql = (
        f"SELECT {_TARGET.columns('h')}, ({visitor_sql}), {f'({active_sql})' if script_ids else '0'}"
        f" FROM {quote(Household._meta.db_table)} h WHERE h.{quote('id')} = %s"
        + (f" AND {condition}" if condition else "")
    )
    params = [user.pk, *script_ids, household_id, *params]
    # The campaign rule's snapshot rides along when the request has none yet (visit_campaign comes next).
    snapshot_sql = rules.snapshot_statement(connection.alias) if _sends_several(connection) else None
    with connection.cursor() as cursor:
        if snapshot_sql is None:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        else:
            cursor.execute(f"{sql}; {snapshot_sql}", [*params, household_id, user.pk])
            row = cursor.fetchone()
            cursor.nextset()
            rules.keep_snapshot(cursor.fetchall(), connection.alias, household_id, row[-2] if row else None)
    if row is None:
        return None
    household = _TARGET.instance(row, connection.alias)
    household.visitor_id, household.active_scripts = row[-2], row[-1]
    return household


def household_detail(user, household: Household, campaign) -> dict:
    """Residents, earlier visits and what is still missing for one household already fetched in scope."""
    residents = list(household.residents.all())
    visits = list(
        household.visits.select_related("visitor", "recorded_by")
        .annotate(scripts=Count("fraud_types"))
        .order_by("-visited_at")[:20]
    )
    in_campaign = [v for v in visits if campaign is None or v.campaign_id == campaign.pk]
    badge = _app_badge(
        bool(residents),
        any(not r.app_registered for r in residents),
        any(r.app_registered for r in residents),
        any(v.app_registered for v in in_campaign),
    )
    states = _states(bool(in_campaign), any(v.signed for v in in_campaign), badge)
    missing = []
    if not in_campaign:
        missing.append("本次活动尚未走访")
    elif not any(v.is_qualified for v in in_campaign):
        missing.append("还没有有效走访（真人见、讲解、签承诺书）")
    if in_campaign and not any(v.signed for v in in_campaign):
        missing.append("未签承诺书")
    for flag, label in (
        ("app_installed", "未安装App"),
        ("app_registered", "未注册"),
        ("app_verified", "未实名"),
        ("alerts_enabled", "未开启来电预警"),
    ):
        names = [r.name for r in residents if not getattr(r, flag)]
        if names:
            missing.append(f"{label}：{'、'.join(names)}")
    if not residents:
        missing.append("名册里没有家庭成员信息")
    return {
        "household": household,
        "phone": display_phone(user, household.phone),
        "tags": vulnerable_labels(household),
        "residents": [{"resident": r, "phone": display_phone(user, r.phone)} for r in residents],
        "visits": visits,
        "states": states,
        "missing": missing,
    }


def worker_confirmation(user) -> list[dict]:
    """Per worker in ``user``'s scope: visits drawn for call-back, answers, and the confirmed share.

    The confirmed share is 居民确认 ÷ answered (确认 + 否认 + 联系不上); pending checks are left out.
    Lowest share first, so the workers to talk to come first.
    """
    result = CallbackCheck.Result
    rows = (
        scope_queryset(user, CallbackCheck.objects.all())
        .values("worker_id", "worker__username", "worker__last_name", "worker__first_name")
        .annotate(
            drawn=Count("id"),
            confirmed=Count("id", filter=Q(result=result.CONFIRMED)),
            denied=Count("id", filter=Q(result=result.DENIED)),
            unreachable=Count("id", filter=Q(result=result.UNREACHABLE)),
            pending=Count("id", filter=Q(result=result.PENDING)),
        )
        .order_by("worker__username")
    )
    out = []
    for row in rows:
        answered = row["drawn"] - row["pending"]
        name = f"{row['worker__last_name']}{row['worker__first_name']}".strip()
        out.append(
            {
                "worker": f"{name}（{row['worker__username']}）" if name else row["worker__username"],
                "drawn": row["drawn"],
                "confirmed": row["confirmed"],
                "denied": row["denied"],
                "unreachable": row["unreachable"],
                "pending": row["pending"],
                "answered": answered,
                "share": metrics.rate_fraction(row["confirmed"], answered),
                "share_display": metrics.format_rate(row["confirmed"], answered),
            }
        )
    out.sort(key=lambda r: metrics.sort_key(r["share"], descending=False))
    return out


def pending_callbacks(user, limit: int = 50) -> list:
    """Call-backs still waiting for an answer, oldest first, with what the caller needs on screen."""
    return list(
        scope_queryset(user, CallbackCheck.objects.filter(result=CallbackCheck.Result.PENDING))
        .select_related("visit__household", "visit__village", "worker")
        .order_by("drawn_at", "id")[:limit]
    )
