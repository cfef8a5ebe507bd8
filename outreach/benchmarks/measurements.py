"""Every measurement of ``manage.py benchmark``, in the order the table prints them.

Targets come from the issues: #4 import/export, #5 visits from the phone, #6 the dataset itself, #7
rankings, #13 the admin household list's first page (#1 asked only that it "stays fast" at a million rows).
A measurement may also report its floor, measured in the same run (``figures["floor"]``, see registry.py).
"""

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, transaction
from django.db.models import Count, Max
from django.urls import reverse
from django.utils import timezone

from outreach.benchmarks.context import Context, MeasureError
from outreach.benchmarks.load import LoadSpec, OpenLoopSpec, gunicorn, run_load, run_open
from outreach.benchmarks.models import CityBuild
from outreach.benchmarks.registry import FIGURE_NAMES, Target, measurement, median_of, summarize
from outreach.campaigns.models import Assignment
from outreach.dashboards.models import OrganizationDaySummary, PendingOrganization
from outreach.lib.signals import field_data_changed
from outreach.people.models import Household, PartyMember, PartyOrganization, Resident
from outreach.places.models import GridArea
from outreach.visits.models import Visit

ADMIN_LIST = "/admin/people/household/"

# -- the dataset ----------------------------------------------------------------------------------------------


@measurement("dataset.build", "生成城市数据集（build_city）", "数据集", targets=[Target("seconds", "<", 300, "#6")])
def dataset_build(ctx: Context) -> dict:
    build = CityBuild.objects.filter(finished_at__isnull=False).order_by("-finished_at").first()
    if build is None:
        raise MeasureError("没有 build_city 的记录：先运行 build_city")
    return {"seconds": build.seconds, "households": build.households, "visits": build.visits}


# -- the admin household list ---------------------------------------------------------------------------------


# The admin's emptiest page: its header and side bar (the app list) and nothing else, as every list page has.
ADMIN_BARE = "/admin/password_change/done/"


def _admin(role: str, kind: str):
    def run(ctx: Context) -> dict:
        household = ctx.sample_household
        query = {"list": None, "phone": {"q": household.phone}, "name": {"q": household.head_name}}[kind]
        figures = ctx.page(role, ADMIN_LIST, query)
        figures["floor"] = admin_floor(ctx, role, query)
        return figures

    return run


def admin_floor(ctx: Context, role: str, query: dict | None) -> dict:
    """The floor of an admin list page: the page's own main SELECT (page 1's rows, as the change list builds it)
    run as raw SQL through a cursor, plus the admin's bare page (session, login, header and side bar)."""
    from django.contrib import admin
    from django.test import RequestFactory

    request = RequestFactory().get(ADMIN_LIST, query or {})
    request.user = ctx.user(role)
    changelist = admin.site.get_model_admin(Household).get_changelist_instance(request)
    sql, params = changelist.result_list.query.sql_with_params()
    samples = []
    for _ in range(ctx.runs + 1):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    select_ms = summarize(samples[1:])["median_ms"]  # the first run warms the plan and the cache, as the page's does
    bare_ms = ctx.page(role, ADMIN_BARE)["median_ms"]
    return {
        "figure": "median_ms",
        "value": round(select_ms + bare_ms, 1),
        "what": f"本页主查询的原始 SQL（{select_ms:g} ms）＋ 只有页头和侧栏的后台空白页（{bare_ms:g} ms）",
    }


ADMIN_LIST_TARGETS = [Target("median_ms", "<=", 35, "#13"), Target("p95_ms", "<=", 60, "#13")]

for _role, _who in (("county", "县级用户"), ("city", "市级用户")):
    for _kind, _what in (("list", "住户列表"), ("phone", "按电话搜索"), ("name", "按户主姓名搜索")):
        measurement(
            f"admin.{_kind}.{_role}",
            f"后台{_what}（{_who}）",
            "后台住户列表",
            targets=ADMIN_LIST_TARGETS if _kind == "list" else (),
        )(_admin(_role, _kind))


# -- rankings and dashboards (issue #7) -----------------------------------------------------------------------

DASHBOARDS = "outreach.dashboards"
# Issue 13 tightened issue 7's 100 ms and 300 ms: the county ranking near its floor, every other page ≤ 50 ms.
COUNTY_RANKING = [Target("median_ms", "<=", 15, "#13")]
PAGE = [Target("median_ms", "<=", 50, "#13")]


@measurement("dashboards.rebuild", "重建汇总表（rebuild_summaries）", "排名与看板", requires=[DASHBOARDS], heavy=True)
def dashboards_rebuild(ctx: Context) -> dict:
    import time

    from outreach.dashboards.services import rebuild_summaries, vacuum_summaries

    started = time.perf_counter()
    rebuild_summaries()
    seconds = time.perf_counter() - started
    # As `refresh_summaries --all` does: the pages measured next read the covering indexes alone.
    started = time.perf_counter()
    vacuum_summaries()
    return {"seconds": round(seconds, 2), "vacuum_seconds": round(time.perf_counter() - started, 2)}


def _dashboard(role: str, url_name: str, args=None, floor=None):
    def run(ctx: Context) -> dict:
        resolved = [a(ctx) if callable(a) else a for a in (args or [])]
        figures = ctx.page(role, reverse(f"dashboards:{url_name}", args=resolved))
        if floor is not None:
            found = floor(ctx) if callable(floor) else ranking_floor(ctx, floor)
            if found is not None:
                figures["floor"] = found
        return figures

    return run


# A ranking's floor: what its figures cost the database at least. The page's two summary GROUP BYs (the village
# summaries and the party organisations' for the page's campaign and its two dates), as bare SQL on one cursor.
FLOOR_UNITS = {"county": ("county_id", None), "town": ("town_id", "county_id"), "village": ("village_id", "town_id")}


def ranking_floor(ctx: Context, level: str) -> dict | None:
    """``{"figure": "median_ms", "value": ms, "what": …}``: the bare summary GROUP BY of the ``level`` ranking the
    benchmark opens, timed in the same run as the page (None when the page has no campaign to sum)."""
    from django.db import connection

    from outreach.campaigns.rules import page_campaign
    from outreach.dashboards import queries
    from outreach.dashboards.models import OrganizationDaySummary, VillageDaySummary

    unit, parent_column = FLOOR_UNITS[level]
    parent_id = {"county": None, "town": ctx.county.pk, "village": ctx.sample_household.town_id}[level]
    dates = queries.report_dates()
    as_of = queries.default_as_of(dates)
    previous = queries.previous_report_date(as_of, dates)
    campaign = page_campaign(None if level == "county" else ctx.county, as_of).campaign
    if campaign is None or as_of < campaign.start_date:
        return None
    days = sorted({min(d, campaign.end_date) for d in (as_of, previous) if d >= campaign.start_date})
    where = "campaign_id = %s AND day IN ({})".format(", ".join(["%s"] * len(days)))
    params = [campaign.pk, *days]
    if parent_column is not None:
        where += f" AND {parent_column} = %s"
        params.append(parent_id)
    sums = ", ".join(f"SUM({name})" for name in queries.FIELD_FIGURES)
    statements = [
        f"SELECT day, {unit}, {sums} FROM {VillageDaySummary._meta.db_table} WHERE {where} GROUP BY day, {unit}",
        f"SELECT day, {unit}, SUM(members), SUM(active_members) FROM {OrganizationDaySummary._meta.db_table} "
        f"WHERE {where} GROUP BY day, {unit}",
    ]
    samples = []
    with connection.cursor() as cursor:
        for n in range(ctx.runs + 1):
            started = time.perf_counter()
            for sql in statements:
                cursor.execute(sql, params)
                cursor.fetchall()
            if n:  # the first run warms the cache, as the page's warm-up request does
                samples.append((time.perf_counter() - started) * 1000)
    what = (
        f"页面数字所需的汇总表 GROUP BY 裸 SQL（村每日汇总、党组织每日汇总各一条，按{queries.LEVELS[level]}分组，"
        f"{len(days)} 个日期），在同一次运行中计时"
    )
    return {"figure": "median_ms", "value": summarize(samples)["median_ms"], "what": what}


def raw_floor(ctx: Context, querysets: list, what: str) -> dict:
    """``{"figure": "median_ms", …}``: the page's own essential queries (``querysets``, built by the functions the
    page calls) as raw SQL on one cursor, timed in the same run as the page; the first run warms the cache."""
    from django.db import connection

    statements = [qs.query.sql_with_params() for qs in querysets]
    samples = []
    with connection.cursor() as cursor:
        for n in range(ctx.runs + 1):
            started = time.perf_counter()
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()
            if n:
                samples.append((time.perf_counter() - started) * 1000)
    return {"figure": "median_ms", "value": summarize(samples)["median_ms"], "what": what}


def trends_floor(ctx: Context) -> dict:
    """The trend page's two reads (the county reports of 120 days, the campaign's weekly 入户率 sums)."""
    from outreach.campaigns.rules import page_campaign
    from outreach.dashboards import queries

    as_of = queries.default_as_of()
    campaign = page_campaign(None, as_of).campaign
    querysets = [queries.trend_reports(as_of)]
    if campaign is not None:
        querysets.append(queries.progress_sums(campaign, queries.progress_days(campaign, as_of)))
    return raw_floor(
        ctx, querysets, "页面数字所需的两条查询（120 天的县通报、活动每周入户率合计）裸 SQL，同一次运行中计时"
    )


# The first page of a chase list: as many rows as LazyPaginator fetches (a page and one more).
CHASE_ROWS = 51


def chase_members_floor(ctx: Context) -> dict:
    from outreach.dashboards import queries

    qs = queries.members_without_visit(ctx.user("county"), 7, queries.default_as_of())[:CHASE_ROWS]
    return raw_floor(ctx, [qs], f"本页主查询（前 {CHASE_ROWS} 名 7 天未走访的党员）裸 SQL，同一次运行中计时")


def chase_households_floor(ctx: Context) -> dict:
    from outreach.campaigns.rules import page_campaign
    from outreach.dashboards import queries

    user = ctx.user("county")
    as_of = queries.default_as_of()
    campaign = page_campaign(user.county, as_of).campaign
    qs = queries.households_never_visited(user, campaign, as_of)[:CHASE_ROWS]
    return raw_floor(ctx, [qs], f"本页主查询（前 {CHASE_ROWS} 户从未走访的住户）裸 SQL，同一次运行中计时")


def chase_villages_floor(ctx: Context) -> dict | None:
    from outreach.campaigns.rules import page_campaign
    from outreach.dashboards import queries
    from outreach.lib import metrics

    user = ctx.user("county")
    as_of = queries.default_as_of()
    campaign = page_campaign(user.county, as_of).campaign
    day = queries._summary_day(campaign, as_of)
    if day is None:
        return None
    qs = queries.summaries_below_target(user, campaign, day, metrics.percent_target(campaign.target_visit_rate))
    return raw_floor(ctx, [qs], "本页主查询（入户率低于目标的村及其名称）裸 SQL，同一次运行中计时")


def _county_pk(ctx):
    return ctx.county.pk


def _town_pk(ctx):
    return ctx.sample_household.town_id


for _key, _title, _role, _name, _args, _targets, _floor in (
    ("county_ranking.city", "县（市、区）排名（市级用户）", "city", "county_ranking", None, COUNTY_RANKING, "county"),
    (
        "county_ranking.county",
        "县（市、区）排名（县级用户）",
        "county",
        "county_ranking",
        None,
        COUNTY_RANKING,
        "county",
    ),
    ("town_ranking", "乡镇排名（县内）", "county", "ranking", ["town", _county_pk], PAGE, "town"),
    ("village_ranking", "村（社区）排名（乡镇内）", "county", "ranking", ["village", _town_pk], PAGE, "village"),
    ("trends", "趋势图", "city", "trends", None, PAGE, trends_floor),
    ("chase_members", "久未走访的党员", "county", "chase_members", None, PAGE, chase_members_floor),
    ("chase_households", "从未走访的住户", "county", "chase_households", None, PAGE, chase_households_floor),
    ("chase_villages", "未达标的村", "county", "chase_villages", None, PAGE, chase_villages_floor),
    ("bulletins", "通报列表", "city", "bulletin_list", None, PAGE, None),
):
    measurement(f"dashboards.{_key}", _title, "排名与看板", requires=[DASHBOARDS], targets=_targets)(
        _dashboard(_role, _name, _args, _floor)
    )


@measurement(
    "dashboards.county_ranking.recomputed",
    "县（市、区）排名（市级用户），每次都重新计算（如汇总表刚被刷新：进程里保留的排名作废）",
    "排名与看板",
    requires=[DASHBOARDS],
    targets=PAGE,
)
def county_ranking_recomputed(ctx: Context) -> dict:
    """The page when its figures have just changed: the ranking kept by the process is dropped before each
    request, as a write to any of its source tables does (dashboards/ranking_cache.py)."""
    from outreach.dashboards import ranking_cache

    figures = ctx.page("city", reverse("dashboards:county_ranking"), before_each=ranking_cache.clear)
    found = ranking_floor(ctx, "county")
    if found is not None:
        figures["floor"] = found
    return figures


@measurement(
    "dashboards.county_ranking.after_visit",
    "县（市、区）排名，紧接在一次新走访之后（汇总由 db_worker 的刷新任务更新）",
    "排名与看板",
    requires=[DASHBOARDS],
    targets=COUNTY_RANKING,
)
def county_ranking_after_visit(ctx: Context) -> dict:
    """Each request follows a write to one village. Within DASHBOARD_REFRESH_GRACE_SECONDS (production: 30 s)
    the page reads the summary rows as they are; the db_worker's refresh job pays for it (measured below)."""
    village_id = ctx.sample_household.village_id
    url = reverse("dashboards:county_ranking")
    ctx.page("city", url, runs=1)
    samples, queries = [], 0
    for _ in range(ctx.runs):
        field_data_changed.send(sender=Visit, village_ids={village_id})
        figures = ctx.page("city", url, runs=0)
        samples.append(figures["first_ms"])
        queries = max(queries, figures["queries"])
    return {**summarize(samples), "queries": queries}


@measurement(
    "dashboards.refresh_one_village",
    "刷新一个村的汇总（db_worker 刷新任务每次的工作；宽限期过后没人刷新时由页面承担）",
    "排名与看板",
    requires=[DASHBOARDS],
)
def refresh_one_village(ctx: Context) -> dict:
    """The cost moved off the page: rebuilding one village's (and its organizations') summary rows."""
    from outreach.dashboards.services import refresh_pending

    village_id = ctx.sample_household.village_id
    samples = []
    for _ in range(ctx.runs):
        field_data_changed.send(sender=Visit, village_ids={village_id})
        started = time.perf_counter()
        refresh_pending()
        samples.append((time.perf_counter() - started) * 1000)
    return summarize(samples)


# -- imports and exports of the 责任分工表 (issue #4) ---------------------------------------------------------

DATAIO = "outreach.dataio"
IMPORT_COUNTY = "140825000000"  # 新绛县, the county of the reference bulletin


def _dataio_step(*args) -> dict:
    """One ``dataio_bench`` step in a fresh process, so its peak memory is its own; returns its JSON line."""
    completed = subprocess.run(
        [sys.executable, "manage.py", "dataio_bench", *args],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise MeasureError(f"dataio_bench {args[0]} 失败：{(completed.stderr or completed.stdout)[-500:]}")
    return json.loads(lines[-1])


def undo_import(county_code: str, since, last_org_id: int) -> None:
    """Remove what an import added to the county after ``since``, so every run imports the same new rows.

    build_city stamps its rows with the campaign's start date, so anything newer came from the import;
    party organisations have no timestamp, so those above ``last_org_id`` are the import's. Rows go in plain
    DELETE statements: ``Model.delete()`` would load them all and the change history would record 100,000
    deletions of rows only the benchmark ever made.
    """
    households = Household.objects.filter(county__code=county_code, created_at__gte=since)
    members = PartyMember.objects.filter(county__code=county_code, created_at__gte=since)
    with transaction.atomic():
        _delete_rows(Resident.objects.filter(household__in=households))
        _delete_rows(Assignment.objects.filter(household__in=households))
        _delete_rows(Assignment.objects.filter(member__in=members))
        _delete_rows(households)
        _delete_rows(members)
        _delete_rows(GridArea.objects.filter(village__county__code=county_code, created_at__gte=since, households=None))
        organizations = PartyOrganization.objects.filter(pk__gt=last_org_id, members=None, children=None)
        # A summary refresh (the db_worker job the import queued) may already have given them summary rows.
        _delete_rows(OrganizationDaySummary.objects.filter(organization__in=organizations))
        # And the marks its member writes left for that job (a raw DELETE cascades to nothing).
        _delete_rows(PendingOrganization.objects.filter(organization__in=organizations))
        _delete_rows(organizations)


def _delete_rows(queryset) -> int:
    """One DELETE … WHERE for ``queryset``: no rows loaded, no signals (Django's own fast path)."""
    return queryset._raw_delete(queryset.db)


def with_floor(figures: dict, floors: list[dict], what: str) -> dict:
    """``figures`` with the median floor of the same run: the ``floor`` key the report prints as
    figure / floor = ratio, the floor's peak memory, and ``floor_ratio`` for the issue's target."""
    seconds = statistics.median(f["seconds"] for f in floors)
    peak = statistics.median(f["peak_mb"] for f in floors)
    figures["floor"] = {"figure": "seconds", "value": round(seconds, 2), "what": what}
    figures["floor_peak_mb"] = round(peak, 1)
    figures["floor_ratio"] = round(figures["seconds"] / seconds, 2) if seconds else None
    return figures


def _import(rows: int):
    def run(ctx: Context) -> dict:
        runs, floors = [], []
        with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
            path = Path(folder) / f"责任分工表-{rows}.xlsx"
            _dataio_step("build", "--file", str(path), "--rows", str(rows), "--county", IMPORT_COUNTY)
            for _ in range(ctx.io_runs):
                since = timezone.now()
                last_org_id = PartyOrganization.objects.aggregate(m=Max("pk"))["m"] or 0
                try:
                    figures = _dataio_step("import", "--file", str(path), "--county", IMPORT_COUNTY)
                finally:
                    undo_import(IMPORT_COUNTY, since, last_org_id)
                if figures.get("errors"):
                    raise MeasureError(f"导入报告了 {figures['errors']} 个错误")
                runs.append(figures)
                # The floor beside each run: the same file read by python-calamine, and the file's rows as
                # households sent in one COPY (each its own process, so each peak is its own).
                read = _dataio_step("floor-read", "--file", str(path))
                copy = _dataio_step("floor-copy", "--file", str(path), "--rows", str(rows), "--county", IMPORT_COUNTY)
                floors.append(
                    {"seconds": read["seconds"] + copy["seconds"], "peak_mb": max(read["peak_mb"], copy["peak_mb"])}
                )
        what = f"python-calamine 读完这份文件 + 一次 COPY 写入 {rows:,} 行住户"
        return with_floor(median_of(runs), floors, what)

    return run


IMPORT_TARGETS = [Target("floor_ratio", "<=", 3, "#13")]
measurement(
    "dataio.import_10k",
    "导入 1 万行责任分工表（新的住户、党员和包联）",
    "导入导出",
    requires=[DATAIO],
    modules=["outreach.dataio.bench"],
    targets=[Target("peak_mb", "<=", 150, "#13")],
    heavy=True,
)(_import(10_000))
measurement(
    "dataio.import_100k",
    "导入 10 万行责任分工表（新的住户、党员和包联）",
    "导入导出",
    requires=[DATAIO],
    modules=["outreach.dataio.bench"],
    targets=[Target("seconds", "<", 20, "#4"), *IMPORT_TARGETS, Target("peak_mb", "<=", 250, "#13")],
    heavy=True,
)(_import(100_000))


@measurement(
    "dataio.export_100k",
    "导出约 10 万行责任分工表（住户数最接近 10 万的县）",
    "导入导出",
    requires=[DATAIO],
    modules=["outreach.dataio.bench"],
    targets=[
        Target("seconds", "<", 10, "#4"),
        Target("floor_ratio", "<=", 1.2, "#13"),
        Target("peak_mb", "<=", 150, "#13"),
    ],
    heavy=True,
)
def dataio_export(ctx: Context) -> dict:
    sizes = Household.objects.values("county__code").annotate(n=Count("id"))
    code = min(sizes, key=lambda row: abs(row["n"] - 100_000))["county__code"] if sizes else IMPORT_COUNTY
    runs, floors = [], []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        for n in range(ctx.io_runs):
            path = Path(folder) / f"export-{n}.xlsx"
            runs.append(_dataio_step("export", "--file", str(path), "--county", code))
            floors.append(
                _dataio_step("floor-export", "--file", str(Path(folder) / f"floor-{n}.xlsx"), "--county", code)
            )
    what = "导出的同一查询经一个服务器端游标直接写入 xlsxwriter（constant_memory）"
    return with_floor(median_of(runs), floors, what)


def _start_worker(*extra) -> subprocess.Popen:
    """A ``db_worker`` of this checkout; the caller stops it by its own process handle."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2", *extra],
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(fetch, done, seconds: float = 300.0, every: float = 0.1):
    """Poll ``fetch()`` until ``done(value)``, at most ``seconds``; returns the last value."""
    deadline = time.monotonic() + seconds
    value = fetch()
    while not done(value):
        if time.monotonic() > deadline:
            raise MeasureError(f"{seconds:.0f} 秒内没有等到预期的状态")
        time.sleep(every)
        value = fetch()
    return value


# -- the web server -------------------------------------------------------------------------------------------


@measurement("serve.healthz", "gunicorn 健康检查 /healthz（32 并发，基线）", "手机走访", heavy=True)
def serve_healthz(ctx: Context) -> dict:
    runs = []
    with gunicorn() as server:
        for _ in range(ctx.load_runs):
            runs.append(run_load(LoadSpec(url=f"{server.base}/healthz", seconds=ctx.load_seconds), server))
    return median_of(runs)


def login_session(user) -> tuple[str, str]:
    """A session cookie and CSRF token for ``user``, made the way ``login()`` stores them."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "outreach.accounts.backends.PasswordBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key, secrets.token_hex(16)


VISIT_BODY = {
    "client_id": "{uuid}",
    "household": "{household}",
    "entered": True,
    "met_person": True,
    "explained": True,
    "signed": False,
    "left_brochure": True,
    "notes": "基准测试",
}


CORES = os.cpu_count() or 1
SERVE_WORKERS = CORES + 1  # what outreach/gunicorn_conf.py starts by default
VISIT_TARGETS = [
    Target("visits_per_s", ">=", 150, "#5"),
    Target("p99_ms", "<", 250, "#5"),
    Target("visits_per_s", ">=", 500, "#13"),
    Target("p99_ms", "<=", 100, "#13"),
    Target("app_cpu_ms", "<=", 2, "#13"),
]
OPEN_RATE = 300  # visits a second offered in the open-loop run (#13)
OPEN_TARGETS = [
    Target("p99_ms", "<=", 50, "#13"),
    Target("errors", "<=", 0, "#13"),
    Target("app_cpu_ms", "<=", 2, "#13"),
]
HEALTHZ_FLOOR = "同一次运行中、同一个 gunicorn 上的 /healthz"
# The floor of the visit's own CPU: the same endpoint, session and CSRF token, posting a body that is not a visit
# (``[]``: answered 400 once the login, the CSRF check, the role and the JSON are through): what any logged-in
# POST costs before the visit does anything.
EMPTY_POST_BODY = "[]"
EMPTY_POST_FLOOR = "同一次运行中、同一个 gunicorn 上、同一会话带 CSRF 的空 POST（请求体 []，答 400）"


def _visit_post(workers: int):
    def run(ctx: Context) -> dict:
        return post_visits(ctx, workers)

    return run


measurement(
    "mobile.visit_post",
    f"手机提交走访 POST（gunicorn {SERVE_WORKERS} 个 sync worker，即 make serve 的默认，32 并发）",
    "手机走访",
    requires=["outreach.mobile"],
    targets=VISIT_TARGETS,
    heavy=True,
)(_visit_post(SERVE_WORKERS))
measurement(
    "mobile.visit_post_2n1",
    f"手机提交走访 POST（gunicorn {2 * CORES + 1} 个 sync worker，即 2×核数+1，32 并发）",
    "手机走访",
    requires=["outreach.mobile"],
    targets=VISIT_TARGETS,
    heavy=True,
)(_visit_post(2 * CORES + 1))


def visit_post_request(ctx: Context) -> tuple[tuple[int, ...], dict, dict]:
    """What the phone load sends as the benchmark's grid worker: their households, the visit body template
    (``{uuid}`` and ``{household}`` filled per request) and the headers of a logged-in session."""
    from outreach.visits.models import FraudType

    user = ctx.user("grid")
    households = tuple(
        Household.objects.filter(grid__in=user.grids.all()).order_by("id").values_list("id", flat=True)[:500]
    )
    if not households:
        raise MeasureError("网格员的网格里没有住户")
    from outreach.benchmarks.city import CAMPAIGN_NAME
    from outreach.campaigns.models import Campaign

    fraud_type = FraudType.objects.filter(is_active=True).order_by("sort_order", "id").first()
    body = {
        **VISIT_BODY,
        "visited_at": timezone.now().replace(microsecond=0).isoformat(),
        "fraud_types": [fraud_type.pk],
        # As the phone form sends it: build_city's drive (dated 2021) is not running today, so the campaign rule
        # would not default to it; the phone names the campaign its form records for.
        "campaign": Campaign.objects.get(name=CAMPAIGN_NAME).pk,
    }
    session_key, csrf = login_session(user)
    headers = {
        "Content-Type": "application/json",
        "Cookie": f"sessionid={session_key}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Referer": "http://127.0.0.1/m/",
    }
    return households, body, headers


def _floors(runs: list[dict], names: tuple[str, ...], what: str) -> list[dict]:
    """The floor of each figure in ``names``: the median over the rounds of the /healthz run beside each."""
    return [
        {
            "figure": name,
            "value": median_of([{name: r[name]} for r in runs])[name],
            "what": f"{what}：{FIGURE_NAMES[name]}",
        }
        for name in names
        if all(name in r for r in runs)
    ]


def _median_figure(runs: list[dict], name: str) -> float | None:
    values = [r[name] for r in runs if name in r]
    return round(statistics.median(values), 2) if values else None


def _forget_visits(user, since) -> None:
    """Delete the visits a load run stored, and their change history (the creation and the deletion rows), so
    repeated runs leave visits_historicalvisit as build_city made it."""
    ids = list(Visit.objects.filter(recorded_by=user, created_at__gte=since).values_list("pk", flat=True))
    for start in range(0, len(ids), 5_000):
        chunk = ids[start : start + 5_000]
        Visit.objects.filter(pk__in=chunk).delete()
        Visit.history.model.objects.filter(id__in=chunk).delete()


def _stored_since(user, since) -> int:
    return Visit.objects.filter(recorded_by=user, created_at__gte=since).count()


def post_visits(ctx: Context, workers: int) -> dict:
    """Closed loop: 32 connections post visits as fast as they are answered (wrk, else the Python generator).

    Each round first loads /healthz on the same gunicorn for a third of the time: the floor of the figures
    (``floor``), taken in the same minute, on the same busy machine. ``sent`` counts the answers the load tool
    received; ``stored`` the visits stored once gunicorn has stopped. Every request carries a new client id, so
    stored − sent is the requests still in flight when the tool stopped at its deadline (wrk counts only
    answers it read; the server still answered and stored them): ``unanswered``, at most one per connection a
    round. More would mean a visit stored twice, and fails the measurement.
    """
    user = ctx.user("grid")
    households, body, spec_headers = visit_post_request(ctx)
    started = timezone.now()
    runs, floors, empties = [], [], []
    connections = LoadSpec(url="").connections
    try:
        with gunicorn(workers=workers) as server:
            for _ in range(ctx.load_runs):
                healthz = LoadSpec(url=f"{server.base}/healthz", seconds=max(2, ctx.load_seconds // 3))
                floors.append(run_load(healthz, server))
                empty = LoadSpec(
                    url=f"{server.base}{reverse('mobile:visit_api')}",
                    method="POST",
                    headers=spec_headers,
                    body=EMPTY_POST_BODY,
                    seconds=max(2, ctx.load_seconds // 3),
                )
                empties.append(run_load(empty, server))
                spec = LoadSpec(
                    url=f"{server.base}{reverse('mobile:visit_api')}",
                    method="POST",
                    headers=spec_headers,
                    body=json.dumps(body, ensure_ascii=False),
                    households=households,
                    seconds=ctx.load_seconds,
                )
                since = timezone.now()
                runs.append(run_load(spec, server, handled=lambda since=since: _stored_since(user, since)))
        # gunicorn has stopped gracefully: the requests the tool left at its deadline are answered and stored.
        stored = _stored_since(user, started)
    finally:
        # Leave the dataset as build_city made it, so runs stay comparable.
        _forget_visits(user, started)
    figures = median_of(runs)
    figures["visits_per_s"] = figures.pop("requests_per_s")
    figures["sent"] = sum(r["requests"] for r in runs)
    figures["stored"] = stored
    figures["unanswered"] = figures["stored"] - figures["sent"]
    if not 0 <= figures["unanswered"] <= connections * len(runs):
        raise MeasureError(
            f"发出并收到回答 {figures['sent']} 次，存下 {figures['stored']} 条：差数超出每轮每个连接最多一个未收到回答的请求"
        )
    figures["floor"] = _floors(empties, ("app_cpu_ms",), EMPTY_POST_FLOOR) + _floors(floors, ("p99_ms",), HEALTHZ_FLOOR)
    figures["healthz_cpu_ms"] = _median_figure(floors, "app_cpu_ms")
    return figures


@measurement(
    "mobile.visit_post_open",
    f"手机提交走访 POST，开环：每秒恒定发出 {OPEN_RATE} 次（gunicorn {SERVE_WORKERS} 个 sync worker）",
    "手机走访",
    requires=["outreach.mobile"],
    targets=OPEN_TARGETS,
    heavy=True,
)
def post_visits_open(ctx: Context) -> dict:
    """Open loop: visits leave at a constant rate whatever the answers (``load.run_open_loop``), latency counted
    from each one's scheduled time. Each round first offers /healthz at the same rate (the floor). Every request
    sent is waited for, so the visits stored must equal the answers: anything else fails the measurement."""
    user = ctx.user("grid")
    households, body, spec_headers = visit_post_request(ctx)
    started = timezone.now()
    runs, floors, empties = [], [], []
    try:
        with gunicorn(workers=SERVE_WORKERS) as server:
            for _ in range(ctx.load_runs):
                floors.append(
                    run_open(
                        OpenLoopSpec(
                            url=f"{server.base}/healthz", rate=OPEN_RATE, seconds=max(2, ctx.load_seconds // 3)
                        ),
                        server,
                    )
                )
                empty = OpenLoopSpec(
                    url=f"{server.base}{reverse('mobile:visit_api')}",
                    rate=OPEN_RATE,
                    seconds=max(2, ctx.load_seconds // 3),
                    method="POST",
                    headers=spec_headers,
                    body=EMPTY_POST_BODY,
                )
                empties.append(run_open(empty, server))
                spec = OpenLoopSpec(
                    url=f"{server.base}{reverse('mobile:visit_api')}",
                    rate=OPEN_RATE,
                    seconds=ctx.load_seconds,
                    method="POST",
                    headers=spec_headers,
                    body=json.dumps(body, ensure_ascii=False),
                    households=households,
                )
                since = timezone.now()
                runs.append(run_open(spec, server, handled=lambda since=since: _stored_since(user, since)))
        stored = _stored_since(user, started)
    finally:
        _forget_visits(user, started)
    figures = median_of(runs)
    figures["visits_per_s"] = figures.pop("requests_per_s")
    figures["sent"] = sum(r["requests"] for r in runs)  # every request sent was answered or failed
    figures["stored"] = stored
    # Every request sent is waited for; one that timed out may still have been stored, one never twice.
    figures["unanswered"] = figures["stored"] - sum(r["statuses"].get("201", 0) for r in runs)
    if not 0 <= figures["unanswered"] <= sum(r["errors"] for r in runs):
        raise MeasureError(f"发出 {figures['sent']} 次，存下 {figures['stored']} 条，与回答不符：有走访存了两次或丢了")
    figures["floor"] = _floors(empties, ("app_cpu_ms",), EMPTY_POST_FLOOR + "（同样的开环速率）") + _floors(
        floors, ("p99_ms",), HEALTHZ_FLOOR + "（同样的开环速率）"
    )
    figures["healthz_cpu_ms"] = _median_figure(floors, "app_cpu_ms")
    return figures
