"""Dashboard pages: thin views over ``queries`` (reads) and ``bulletins`` (drafting and issuing a 通报).

A page that reads the summary rows first makes the one freshness call (``ensure_fresh_summaries``, on the
primary) and then only reads, from the replica when one is configured.
"""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.html import escape
from django.utils.http import content_disposition_header, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods
from django_tables2 import RequestConfig
from django_tables2.paginators import LazyPaginator

from outreach.accounts.models import AccessLog, Role
from outreach.accounts.privacy import display_phone
from outreach.accounts.scoping import get_in_scope_or_404, in_scope, instance_in_scope, scope_q, scope_queryset
from outreach.accounts.services import record_access
from outreach.campaigns.rules import CampaignChoice, all_campaigns, page_campaign
from outreach.dashboards import bulletins, charts, queries, ranking_cache
from outreach.dashboards.models import Bulletin
from outreach.dashboards.services import ensure_fresh_summaries
from outreach.dashboards.supervision_views import supervise_columns
from outreach.dashboards.tables import RankingTable, ReconciliationTable, metric_column
from outreach.lib import metrics as m
from outreach.lib import xlsx
from outreach.people.models import vulnerable_labels
from outreach.places.models import County, GridArea, Town, Village

VILLAGES_SHOWN = 300
# Level of the rows → the model of the place the ranking is inside.
PARENT_MODEL = {"town": County, "zone": County, "organization": County, "village": Town, "grid": Village}


def _as_of(request, dates=None) -> dt.date:
    value = request.GET.get("date")
    day = parse_date(value) if value else None
    return day or queries.default_as_of(dates)


def _metric_key(request, level: str) -> str:
    key = request.GET.get("metric") or m.DEFAULT_METRIC_BY_LEVEL[level]
    return key if key in m.BY_KEY else m.DEFAULT_METRIC_BY_LEVEL[level]


def _shared_keys(parent) -> dict:
    """The place keys every row of a ranking inside ``parent`` has in common."""
    if isinstance(parent, County):
        return {"county_id": parent.pk}
    if isinstance(parent, Town):
        return {"county_id": parent.county_id, "town_id": parent.pk}
    if isinstance(parent, Village):
        return {"county_id": parent.county_id, "town_id": parent.town_id, "village_id": parent.pk}
    return {}


def _all_reachable(user, target, parent) -> bool:
    """Whether ``user`` reaches every row of ``target`` inside ``parent`` without asking the database: the city's
    viewer always; a county (town) admin inside their county (town), told by the keys the rows share. Anything
    else (a grid worker's villages, a scope through relations) is left to the query."""
    if scope_q(user, target) is None:
        return True
    attnames = {f.attname for f in target._meta.concrete_fields}
    keys = {k: v for k, v in _shared_keys(parent).items() if k in attnames}
    return bool(keys) and instance_in_scope(user, target(**keys)) is True


def _drill_urls(level: str, rows, request, parent=None) -> None:
    """Give each row the link one level down, only where the viewer may open it (at most one query for all
    rows); a grid row leads to that grid's never-visited households. Rows the viewer may not open stay plain."""
    query = {k: request.GET[k] for k in ("date", "campaign") if request.GET.get(k)}
    child = queries.CHILD_LEVEL.get(level)
    if child is not None:
        target, name, place = PARENT_MODEL[child], "dashboards:ranking", None
    elif level == "grid":
        target, name, place = GridArea, "dashboards:chase_households", "grid"
    else:
        return
    pks = [row["pk"] for row in rows if row.get("pk") is not None]
    if _all_reachable(request.user, target, parent):
        reachable = set(pks)
    else:
        reachable = set(scope_queryset(request.user, target.objects.filter(pk__in=pks)).values_list("pk", flat=True))
    # One reverse() for all the rows: each row's link is the same path with its own key.
    if place is None:
        path = reverse(name, args=[child, _PK_SLOT]).replace(str(_PK_SLOT), "{}")
    else:
        path = reverse(name)
    for row in rows:
        if row.get("pk") not in reachable:
            continue
        if place is None:
            url, params = path.format(row["pk"]), query
        else:
            url, params = path, {**query, place: row["pk"]}
        row["url"] = f"{url}?{urlencode(params)}" if params else url


def _breadcrumbs(parent, user) -> list[tuple[str, str | None]]:
    """The way back up; a level the viewer may not open (a grid worker's town) is named without a link."""
    crumbs = [("运城市", reverse("dashboards:county_ranking"))]
    county = town = village = None
    if isinstance(parent, County):
        county = parent
    elif isinstance(parent, Town):
        town, county = parent, parent.county
    elif isinstance(parent, Village):
        village, town, county = parent, parent.town, parent.county
    for place, name, child in ((county, "name", "town"), (town, "name", "village"), (village, "short_name", "grid")):
        if place is None:
            continue
        opens = instance_in_scope(user, place)  # from the place's own keys when they tell (no query)
        if opens is None:
            opens = in_scope(user, place)
        crumbs.append((getattr(place, name), reverse("dashboards:ranking", args=[child, place.pk]) if opens else None))
    return crumbs


def _funnel(rows) -> list[dict]:
    totals = {key: sum(r.get(key) or 0 for r in rows) for key, _ in m.FUNNEL}
    steps, before = [], None
    for key, label in m.FUNNEL:
        steps.append(
            {
                "label": label,
                "count": totals[key],
                "conversion": m.format_rate(totals[key], before) if before is not None else "",
            }
        )
        before = totals[key]
    return steps


@login_required
def home(request):
    """The page staff open first: the city's county ranking (published to every county)."""
    return _ranking_page(request, "county", None)


@login_required
def county_ranking(request):
    return _ranking_page(request, "county", None)


@login_required
def ranking(request, level: str, parent_pk: int):
    model = PARENT_MODEL.get(level)
    if model is None:
        raise Http404("没有这个排名")
    # Only the county ranking is published to everyone; inside a place, the place must be in scope.
    parent = get_in_scope_or_404(request.user, model.objects.select_related(), pk=parent_pk)
    return _ranking_page(request, level, parent)


def _ranking_page(request, level: str, parent):
    ensure_fresh_summaries()
    # Kept per process while no source table was written (ranking_cache.py); the grid level is always computed.
    number = None if level in ranking_cache.UNCACHED_LEVELS else ranking_cache.version()
    dates = ranking_cache.kept(("report_dates",), number, queries.report_dates)
    as_of = _as_of(request, dates)
    metric, campaign = _metric_key(request, level), request.GET.get("campaign") or None
    result = ranking_cache.kept(
        ("ranking", level, getattr(parent, "pk", None), as_of, metric, campaign),
        number,
        lambda: queries.ranking(level, parent, as_of, metric, campaign=campaign, dates=dates),
    )
    if number is not None:
        result = ranking_cache.ranking_copy(result, parent)
    _drill_urls(level, result.rows, request, parent)
    scope_name = parent.name if parent is not None else "运城市"
    title = f"{scope_name} {result.level_name}排名"
    exporting = request.GET.get("export") == "xlsx"
    # 督办 (an action, for the rows' issuer level) is a column of the page only, never of its Excel.
    supervise = (
        [] if exporting else supervise_columns(request.user, level, parent, result.rows, as_of, result.metric, title)
    )
    table = RankingTable.for_level(
        level, result.rows, metric=result.metric, order_by_field="sort", extra_columns=supervise
    )
    RequestConfig(request, paginate=False).configure(table)
    if exporting:
        filename = f"{scope_name}{result.level_name}{result.metric.name}排名_{as_of:%Y%m%d}.xlsx"
        body = xlsx.workbook_bytes(
            table.export_columns(),
            table.export_rows(),
            title_rows=[
                title,
                "；".join(
                    text
                    for text in (
                        f"数据日期：{as_of:%Y-%m-%d}",
                        f"排名指标：{result.metric.name}（{result.metric.definition}）",
                        f"活动：{result.campaign.name if result.campaign else '无'}（{result.choice.reason}）",
                        result.denominator_text,
                        result.correction_text,
                    )
                    if text
                ),
            ],
            sheet="排名",
        )
        record_access(
            request.user, AccessLog.Kind.EXPORT, "排名", rows=len(result.rows), filename=filename, request=request
        )
        return xlsx.response(body, filename)
    tabs = []
    if isinstance(parent, County):
        for lvl, label in (("town", "乡镇（街道）"), ("zone", "作战宣传片区"), ("organization", "党组织")):
            tabs.append(
                {"label": label, "url": reverse("dashboards:ranking", args=[lvl, parent.pk]), "active": lvl == level}
            )
    query = request.GET.copy()
    query["export"] = "xlsx"
    return render(
        request,
        "dashboards/ranking.html",
        {
            **_flagged_units(level, parent, result, request),
            "flagged_share": m.FLAGGED_SHARE,
            "reconcile_definitions": [(m.RECONCILE_FLAGS[k], d) for k, d in m.RECONCILE_DEFINITIONS.items()],
            "title": title,
            "result": result,
            "table": table,
            "metrics": m.METRICS,
            "metric_choices": [
                mm for mm in m.METRICS if level not in ("village", "grid", "organization") or mm.source == "field"
            ],
            "breadcrumbs": _breadcrumbs(parent, request.user),
            "tabs": tabs,
            "funnel": _funnel(result.rows),
            "export_url": f"?{query.urlencode()}",
            "report_dates": dates,
            "choice": result.choice,
        },
    )


def _flagged_units(level: str, parent, result, request) -> dict:
    """The ranking's units whose 通报 and 走访 do not reconcile, listed above the table with a link to the
    reconciliation page of the same scope, date and campaign."""
    if level not in queries.RECONCILED_LEVELS:
        return {}
    query = {k: request.GET[k] for k in ("date", "campaign") if request.GET.get(k)}
    if parent is None:
        url = reverse("dashboards:reconciliation")
    else:
        url = reverse("dashboards:county_reconciliation", args=[parent.pk])
    flagged = [
        {"name": row["name"], "flags": "、".join(m.RECONCILE_FLAGS[f] for f in row["reconcile"])}
        for row in result.rows
        if row.get("reconcile")
    ]
    return {"reconcile_flagged": flagged, "reconcile_url": f"{url}?{urlencode(query)}" if query else url}


@login_required
def reconciliation(request, county_pk: int | None = None):
    """通报 vs 走访: per county (published like the county ranking) or per town of a county in scope (404 else)."""
    parent = None
    if county_pk is not None:
        parent = get_in_scope_or_404(request.user, County.objects.all(), pk=county_pk)
    ensure_fresh_summaries()
    result = queries.reconciliation(parent, _as_of(request), campaign=request.GET.get("campaign") or None)
    query = {k: request.GET[k] for k in ("date", "campaign") if request.GET.get(k)}
    if parent is None:
        reachable = set(
            scope_queryset(request.user, County.objects.filter(pk__in=[r["pk"] for r in result.rows])).values_list(
                "pk", flat=True
            )
        )
        for row in result.rows:
            if row["pk"] in reachable:
                url = reverse("dashboards:county_reconciliation", args=[row["pk"]])
                row["url"] = f"{url}?{urlencode(query)}" if query else url
    table = ReconciliationTable(result.rows)
    scope_name = parent.name if parent is not None else "运城市"
    title = f"{scope_name}各{result.level_name}通报与走访注册对账"
    campaign_text = f"活动：{result.campaign.name if result.campaign else '无'}（{result.choice.reason}）"
    if request.GET.get("export") == "xlsx":
        filename = f"{scope_name}通报与走访注册对账_{result.as_of:%Y%m%d}.xlsx"
        body = xlsx.workbook_bytes(
            table.export_columns(),
            table.export_rows(),
            title_rows=[title, f"数据日期：{result.as_of:%Y-%m-%d}；{campaign_text}"],
            sheet="对账",
        )
        record_access(
            request.user,
            AccessLog.Kind.EXPORT,
            "通报与走访对账",
            rows=len(result.rows),
            filename=filename,
            request=request,
        )
        return xlsx.response(body, filename)
    export = request.GET.copy()
    export["export"] = "xlsx"
    if parent is None:
        ranking_url = reverse("dashboards:county_ranking")
    else:
        ranking_url = reverse("dashboards:ranking", args=["town", parent.pk])
    return render(
        request,
        "dashboards/reconciliation.html",
        {
            "title": title,
            "result": result,
            "table": table,
            "choice": result.choice,
            "report_dates": queries.report_dates(),
            "export_url": f"?{export.urlencode()}",
            "ranking_url": f"{ranking_url}?{urlencode(query)}" if query else ranking_url,
            "definitions": [(m.RECONCILE_FLAGS[k], d) for k, d in m.RECONCILE_DEFINITIONS.items()],
            "jump_percent": settings.RECONCILE_GAP_JUMP_PERCENT,
        },
    )


@login_required
def trends(request):
    as_of = _as_of(request)
    county = None
    if request.GET.get("county"):
        county = get_in_scope_or_404(request.user, County.objects.all(), pk=request.GET["county"])
    choice = page_campaign(county, as_of, requested=request.GET.get("campaign"))
    campaign = choice.campaign
    ensure_fresh_summaries()
    reg = queries.registration_trend(as_of)
    progress = queries.progress_trend(campaign, as_of, county=county)
    registration_target = m.percent_target(campaign.target_registration_rate) if campaign is not None else None
    return render(
        request,
        "dashboards/trends.html",
        {
            "title": "趋势",
            "as_of": as_of,
            "county": county,
            "counties": scope_queryset(request.user, County.objects.all()),
            "registration_chart": mark_safe(  # noqa: S308 - built by charts.line_chart, every text escaped
                charts.line_chart(
                    reg["dates"],
                    reg["series"],
                    registration_target,
                    title=f"各县（市、区）{m.BY_KEY['registration_rate'].name}",
                )
            ),
            "progress_chart": mark_safe(  # noqa: S308
                charts.line_chart(
                    progress["dates"],
                    progress["series"],
                    progress["target"],
                    title=f"{county.name if county else '全市'}{m.BY_KEY['visit_rate'].name}与活动目标",
                )
            ),
            "campaign": campaign,
            "choice": choice,
            "registration_metric": m.BY_KEY["registration_rate"],
            "visit_metric": m.BY_KEY["visit_rate"],
        },
    )


# ------------------------------------------------------------------------------------------- chase lists


def _user_campaign(request, as_of) -> CampaignChoice:
    """The campaign of a chase list: the rule's default for the user's county (the city for city users)."""
    return page_campaign(request.user.county, as_of, requested=request.GET.get("campaign"))


@login_required
def chase_members(request):
    try:
        days = max(1, min(365, int(request.GET.get("days", 7))))
    except ValueError:
        days = 7
    as_of = _as_of(request)
    qs = queries.members_without_visit(request.user, days, as_of)
    page = _page(request, qs)
    rows = [
        {
            "name": p.name,
            "phone": display_phone(request.user, p.phone),
            "organization": p.organization.name,
            "county": p.county.name,
            "last_visit": p.last_visit,
        }
        for p in page.object_list
    ]
    return render(
        request,
        "dashboards/chase_members.html",
        {"title": "督办清单：未走访党员", "rows": rows, "page": page, "days": days, "as_of": as_of},
    )


@login_required
def chase_households(request):
    as_of = _as_of(request)
    choice = _user_campaign(request, as_of)
    qs = queries.households_never_visited(request.user, choice.campaign, as_of)
    grid = None
    if request.GET.get("grid"):
        grid = get_in_scope_or_404(request.user, GridArea.objects.select_related("village"), pk=request.GET["grid"])
        qs = qs.filter(grid=grid)
    page = _page(request, qs)
    rows = [
        {
            "head_name": h.head_name,
            "phone": display_phone(request.user, h.phone),
            "address": h.address,
            "place": f"{h.town.name}{h.village.short_name}{h.grid.name if h.grid else ''}",
            "tags": "、".join(vulnerable_labels(h)),
        }
        for h in page.object_list
    ]
    return render(
        request,
        "dashboards/chase_households.html",
        {
            "title": "督办清单：从未走访的住户",
            "rows": rows,
            "page": page,
            "grid": grid,
            "choice": choice,
            "as_of": as_of,
        },
    )


@login_required
def chase_villages(request):
    ensure_fresh_summaries()
    as_of = _as_of(request)
    choice = _user_campaign(request, as_of)
    campaign = choice.campaign
    rows, total = queries.villages_below_target(request.user, campaign, as_of, limit=VILLAGES_SHOWN)
    # One reverse() for the 300 links (each one costs as much as the row's other cells together).
    grid_ranking = reverse("dashboards:ranking", args=["grid", _PK_SLOT]).replace(str(_PK_SLOT), "{}")
    # A member reaches no village: an empty list would read "every village is on target".
    reaches_villages = scope_queryset(request.user, Village.objects.all()).exists()
    return render(
        request,
        "dashboards/chase_villages.html",
        {
            "title": "督办清单：入户率未达目标的村",
            "reaches_villages": reaches_villages,
            "rows": rows,
            "tbody": _village_rows_html(rows, grid_ranking),
            "total": total,
            "shown": VILLAGES_SHOWN,
            "campaign": campaign,
            "choice": choice,
            "as_of": as_of,
        },
    )


def _village_rows_html(rows, grid_ranking: str):
    """The 300 rows of the villages' chase list as HTML, built in Python: the template's per-cell variable
    rendering cost more than the page's queries. Names are escaped; figures are integers or "12.34%"."""
    out = []
    for r in rows:
        out.append(
            f"<tr><td>{escape(r['county'])}</td><td>{escape(r['town'])}</td>"
            f'<td><a href="{grid_ranking.format(r["village_id"])}">{escape(r["village"])}</a></td>'
            f'<td class="num">{r["households"]}</td><td class="num">{r["visited"]}</td>'
            f'<td class="num">{r["display"]}</td><td class="num">{r["missing"]}</td></tr>'
        )
    return mark_safe("".join(out))  # noqa: S308 - every text above escaped


# A primary key no row has, reversed into a URL and replaced by each row's own.
_PK_SLOT = 987654321987


def _page(request, qs, per_page: int = 50):
    paginator = LazyPaginator(qs, per_page)
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    return paginator.page(number)


# --------------------------------------------------------------------------------------------- bulletins


def _bulletins_for(user):
    """County-level bulletins are published to all; a county's town bulletins only inside its scope."""
    counties = scope_queryset(user, County.objects.all()).values("pk")
    return Bulletin.objects.filter(parent_county__isnull=True) | Bulletin.objects.filter(parent_county__in=counties)


_may_issue = bulletins.may_issue


@login_required
def bulletin_list(request):
    bulletins = (
        _bulletins_for(request.user).select_related("parent_county", "issued_by").order_by("-as_of", "-pk")[:200]
    )
    return render(
        request,
        "dashboards/bulletin_list.html",
        {"title": "通报", "bulletins": bulletins, **_draft_form_context(request.user)},
    )


def _draft_form_context(user) -> dict:
    may_issue_towns = user.is_superuser or user.role in (Role.CITY, Role.COUNTY)
    counties = list(scope_queryset(user, County.objects.order_by("code"))) if may_issue_towns else []
    may_issue_city = _may_issue(user, None)
    as_of = queries.default_as_of()
    # What the rule takes for each scope the user may issue, so the default is named before signing.
    defaults = [("全市各县（市、区）", page_campaign(None, as_of))] if may_issue_city else []
    defaults += [(f"{c.name}各乡镇（街道）", page_campaign(c, as_of)) for c in counties]
    return {
        "may_issue_city": may_issue_city,
        "issue_counties": counties,
        "metrics": m.METRICS,
        "as_of": as_of,
        "campaign_defaults": defaults,
        "campaigns": all_campaigns(),
    }


DRAFT_TEXT_FIELDS = {"title": 200, "issuer": 100, "main_recipients": 300, "copy_to": 300, "note": 2000}


def _draft_fields(user, data) -> dict:
    """The draft a form names (GET for the preview, POST for the signature), checked for scope and right."""
    parent_county = None
    if data.get("county"):
        parent_county = get_in_scope_or_404(user, County.objects.all(), pk=data["county"])
    if not _may_issue(user, parent_county):
        raise PermissionDenied("没有签发该通报的权限")
    level = "town" if parent_county else "county"
    day = parse_date(data.get("date") or "")
    if day is None:
        raise ValueError("请填写正确的数据日期（如 2021-08-13）")
    campaign = data.get("campaign") or None
    metric = data.get("metric") or ""
    if metric and metric not in m.BY_KEY:
        raise ValueError("请选择排名指标")
    if not metric:
        metric = bulletins.default_metric(level, parent_county, day, campaign).key
    fields = {
        "as_of": day,
        "metric": metric,
        "level": level,
        "parent_county": parent_county,
        "campaign": campaign,
    }
    for name, limit in DRAFT_TEXT_FIELDS.items():
        if name in data:
            value = data.get(name, "").strip()[:limit]
            # A default shown in the draft form follows the scope and metric chosen next, unless edited.
            if f"auto_{name}" in data and value == data[f"auto_{name}"].strip():
                continue
            fields[name] = value
    return fields


@login_required
def bulletin_draft(request):
    """拟稿 and 预览: the form, and below it the bulletin exactly as 签发 would freeze it."""
    data = request.GET.copy()
    data.setdefault("date", f"{queries.default_as_of():%Y-%m-%d}")
    try:
        fields = _draft_fields(request.user, data)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("dashboards:bulletin_list")
    draft = bulletins.draft_bulletin(**fields)
    if request.GET.get("export") == "docx":
        return _docx_response(request, draft, f"通报{draft.label}（草稿）.docx")
    shown = bulletins.present(draft, streak_threshold())
    query = {k: v for k, v in request.GET.items() if k != "export"}
    return render(
        request,
        "dashboards/bulletin_draft.html",
        {
            "title": "拟稿：" + draft.title,
            **shown,
            **_draft_form_context(request.user),
            "fields": fields,
            "county_pk": getattr(draft.parent_county, "pk", None),
            "campaign_pk": request.GET.get("campaign") or "",
            "digest": draft.digest(),
            "autos": {
                "title": bulletins.default_title(draft.level, draft.parent_county, draft.metric),
                "issuer": bulletins.default_issuer(draft.parent_county),
                "main_recipients": bulletins.default_main_recipients(draft.level, draft.parent_county),
            },
            "empty_reason": draft.empty_reason,
            "docx_query": urlencode(query | {"export": "docx"}),
        },
    )


@login_required
@require_http_methods(["POST"])
def bulletin_issue(request):
    """签发: freeze the previewed draft (refused when empty or changed since the preview)."""
    try:
        fields = _draft_fields(request.user, request.POST)
        bulletin = bulletins.issue_bulletin(user=request.user, digest=request.POST.get("digest", ""), **fields)
    except (ValueError, bulletins.EmptyBulletin, bulletins.StaleDraft) as exc:
        messages.error(request, str(exc))
        query = {
            k: v for k, v in request.POST.items() if k in ("county", "date", "metric", "campaign", *DRAFT_TEXT_FIELDS)
        }
        return redirect(reverse("dashboards:bulletin_draft") + "?" + urlencode(query))
    messages.success(request, f"已签发{bulletin.label}通报")
    return redirect("dashboards:bulletin_detail", pk=bulletin.pk)


# The rates a bulletin's Excel carries besides the ranked metric (the page shows the first three).
BULLETIN_RATES = ("registration_rate", "verification_rate", "visit_rate", "participation_rate")


def _docx_response(request, draft, filename):
    from outreach.dashboards.docx import bulletin_docx

    body = bulletin_docx(bulletins.present(draft, streak_threshold()))
    record_access(
        request.user, AccessLog.Kind.EXPORT, "通报", rows=len(draft.lines), filename=filename, request=request
    )
    response = HttpResponse(body, content_type=DOCX_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@login_required
def bulletin_detail(request, pk: int):
    try:
        bulletin = _bulletins_for(request.user).select_related("parent_county", "issued_by", "campaign").get(pk=pk)
    except Bulletin.DoesNotExist as exc:
        raise Http404("没有找到该通报") from exc
    draft = bulletins.frozen_draft(bulletin)
    if request.GET.get("export") == "docx":
        return _docx_response(request, draft, f"通报{bulletin.year}年第{bulletin.number}期.docx")
    shown = bulletins.present(draft, streak_threshold())
    metric, lines = shown["metric"], shown["lines"]
    if request.GET.get("export") == "xlsx":
        number = {"kind": "number", "num_format": "#,##0", "missing": m.DASH}
        columns = [
            xlsx.Column("名次", **number),
            xlsx.Column("单位", kind="text"),
            metric_column(metric.name, metric),
            xlsx.Column("常住人口", **number),
            xlsx.Column("常住人口口径", kind="text", missing=m.DASH),
            xlsx.Column("安装注册人数", **number),
            xlsx.Column("实名用户数", **number),
            *(metric_column(m.BY_KEY[key].name, m.BY_KEY[key]) for key in BULLETIN_RATES),
            xlsx.Column("上期名次", **number),
            xlsx.Column("名次升降", kind="text"),
            xlsx.Column("连续后三期数", **number),
        ]
        rows = (
            [
                line["rank"],
                line["name"],
                metric.cell(line["figures"]),
                line["figures"].get("population"),
                line["figures"].get("population_source"),
                line["figures"].get("registered"),
                line["figures"].get("verified"),
                *(m.BY_KEY[key].cell(line["figures"]) for key in BULLETIN_RATES),
                line["previous_rank"],
                line["rank_change_text"],
                line["bottom_streak"],
            ]
            for line in lines
        )
        filename = f"通报{bulletin.year}年第{bulletin.number}期.xlsx"
        body = xlsx.workbook_bytes(
            columns,
            rows,
            title_rows=[
                bulletin.title,
                "　".join(
                    text
                    for text in (
                        f"{bulletin.issuer}　{bulletin.label}　数据日期：{bulletin.as_of:%Y-%m-%d}",
                        shown["denominators"],
                        shown["corrections"],
                    )
                    if text
                ),
            ],
            sheet="排名",
        )
        record_access(request.user, AccessLog.Kind.EXPORT, "通报", rows=len(lines), filename=filename, request=request)
        return xlsx.response(body, filename)
    return render(
        request,
        "dashboards/bulletin_detail.html",
        {"title": bulletin.title, "bulletin": bulletin, **shown},
    )


def streak_threshold() -> int:
    return getattr(settings, "DASHBOARD_BOTTOM_STREAK", 5)
