"""The benchmark's dataset builder and measuring code, at a tiny scale (nothing here is timed)."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import models
from django.db.models import Count, F
from django.utils.timezone import now

from outreach.benchmarks import createdb, load, measurements, registry, report
from outreach.benchmarks.city import CAMPAIGN_NAME
from outreach.benchmarks.context import Context
from outreach.benchmarks.models import CityBuild
from outreach.benchmarks.registry import REGISTRY
from outreach.campaigns.models import Assignment
from outreach.people.models import Household, PartyMember, PartyOrganization
from outreach.places.models import County, GridArea
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import Visit
from tests import factories

pytestmark = pytest.mark.django_db

TINY = {"households": 390, "members": 40, "visits": 1000, "report_days": 3, "verbosity": 0}


def build(**options):
    call_command("build_city", **{**TINY, **options})


def fingerprint():
    return (
        list(Household.objects.order_by("id").values_list("head_name", "phone", "village__code", "grid__name")),
        list(Visit.objects.order_by("id").values_list("client_id", "visited_at", "is_qualified", "household__phone")),
        list(RegistrationReport.objects.order_by("id").values_list("county__code", "as_of", "registered")),
    )


def test_it_builds_the_counts_it_was_asked_for(places):
    build()
    assert Household.objects.count() == 390
    assert PartyMember.objects.count() == 40
    assert Visit.objects.count() == 1000
    assert Assignment.objects.filter(campaign__name=CAMPAIGN_NAME).count() == 390
    counties = County.objects.count()
    assert RegistrationReport.objects.filter(town=None).count() == counties * 3
    assert RegistrationReport.objects.exclude(town=None).values("as_of").distinct().count() == 3
    build_record = CityBuild.objects.get()
    assert build_record.finished
    assert build_record.counts["visits"] == 1000


def test_it_puts_every_household_in_a_real_village_with_a_grid_of_that_village(places):
    build()
    households = Household.objects.all()
    assert not households.filter(village__is_placeholder=True).exists()
    assert not households.filter(grid=None).exists()
    assert not households.exclude(grid__village=F("village")).exists()
    assert not households.exclude(county=F("village__county"), town=F("village__town")).exists()
    # A small city still spans several counties.
    assert households.values("county").distinct().count() >= 10
    phones = [p for p in households.values_list("phone", flat=True) if p]
    assert len(phones) == len(set(phones))


def test_it_assigns_each_household_once_to_a_member_of_its_own_village(places):
    build()
    assert not Household.objects.annotate(n=Count("assignments")).exclude(n=1).exists()
    assert not Assignment.objects.exclude(member__organization__village=F("household__village")).exists()
    assert not PartyOrganization.objects.filter(village=None).exists()
    # Members of one village share its households evenly (about ten each at full scale).
    per_village = {}
    for village, n in (
        Assignment.objects.values_list("household__village", "member")
        .annotate(n=Count("id"))
        .values_list("household__village", "n")
    ):
        per_village.setdefault(village, []).append(n)
    assert all(max(counts) - min(counts) <= 1 for counts in per_village.values())


def test_it_stores_visits_the_way_record_visit_would(places):
    build()
    visits = Visit.objects.all()
    assert not visits.exclude(
        county=F("household__county"),
        town=F("household__town"),
        village=F("household__village"),
        grid=F("household__grid"),
    ).exists()
    for visit in visits.select_related("campaign").annotate(types=Count("fraud_types")):
        assert visit.explained == (visit.types > 0)
        assert visit.is_qualified == visit.qualifies(visit.types)
        assert visit.app_verified <= visit.app_registered <= visit.app_installed
    assert visits.filter(is_qualified=True).exists() and visits.filter(is_qualified=False).exists()
    assert Household.objects.filter(visits=None).exists()  # not every household is visited yet
    campaign = visits.first().campaign
    assert not visits.exclude(visited_at__date__gte=campaign.start_date).exists()
    assert visits.values("client_id").distinct().count() == 1000


def test_it_keeps_the_reported_figures_consistent(places):
    build()
    assert not RegistrationReport.objects.filter(verified__gt=F("registered")).exists()
    for county in County.objects.all():
        figures = list(
            RegistrationReport.objects.filter(county=county, town=None).order_by("as_of").values_list("registered")
        )
        assert figures == sorted(figures)


def test_it_builds_the_same_city_from_the_same_seed(places):
    build()
    build(reset=True)  # a reset also drops the fixture's hand-made grids: start both builds from the same state
    first = fingerprint()
    build(reset=True)
    assert fingerprint() == first
    build(reset=True, seed=7)
    assert fingerprint() != first


def test_it_does_nothing_when_the_same_city_is_there(places):
    build()
    ids = list(Visit.objects.values_list("id", flat=True)[:5])
    build()
    assert CityBuild.objects.count() == 1
    assert list(Visit.objects.values_list("id", flat=True)[:5]) == ids


def test_it_asks_for_reset_before_replacing_another_build(places):
    build()
    with pytest.raises(CommandError, match="--reset"):
        build(households=400)
    build(households=400, reset=True)
    assert Household.objects.count() == 400
    assert CityBuild.objects.count() == 1


def test_it_refuses_a_database_holding_data_it_did_not_build(places):
    factories.make_household(places.zhouzhuang)
    with pytest.raises(CommandError, match="单独的数据库"):
        build()
    with pytest.raises(CommandError, match="单独的数据库"):
        build(reset=True)
    assert Household.objects.count() == 1


# -- the benchmark command and its parts ---------------------------------------------------------------------


def test_it_measures_the_admin_list_and_prints_a_table_and_one_json_line(places, capsys):
    build()
    call_command("benchmark", only=["admin", "dataset"], runs=1)
    out = capsys.readouterr().out
    data = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    results = {r["key"]: r for r in data["results"]}
    assert set(results) == {k for k in REGISTRY if k.startswith(("admin.", "dataset."))}
    for key in ("admin.list.county", "admin.phone.city", "admin.name.county"):
        assert results[key]["status"] == "ok", results[key]["note"]
        assert results[key]["figures"]["queries"] > 0
        assert results[key]["figures"]["median_ms"] > 0
    assert data["scale"]["households"] == TINY["households"]
    assert data["machine"]["nproc"] >= 1
    assert "后台按电话搜索（县级用户）" in out


def test_it_searches_for_a_household_the_county_user_can_see(places):
    build()
    ctx = Context(runs=1)
    county_user = ctx.user("county")
    assert ctx.sample_household.county_id == county_user.county_id
    client = ctx.client_for("county")
    body = client.get("/admin/people/household/", {"q": ctx.sample_household.phone}).content.decode()
    assert ctx.sample_household.head_name in body


def test_it_reports_a_measurement_whose_app_is_missing_as_not_available_yet(places, capsys):
    registry.measurement("test.absent", "不存在的功能", "测试", requires=["outreach.not_there"])(lambda ctx: {})
    try:
        call_command("benchmark", only=["test"], runs=1)
    finally:
        del REGISTRY["test.absent"]
    out = capsys.readouterr().out
    assert "尚未可用" in out
    data = json.loads(out.splitlines()[-1])
    assert data["results"][0]["status"] == "skipped"


def test_it_checks_figures_against_their_targets():
    ranking = registry.Target("median_ms", "<", 100)
    throughput = registry.Target("visits_per_s", ">=", 150)
    m = registry.Measurement("x", "x", "g", lambda ctx: {}, targets=(ranking, throughput))
    assert registry.Result(m, "ok", {"median_ms": 40, "visits_per_s": 150}).verdict() == "达标"
    assert registry.Result(m, "ok", {"median_ms": 140, "visits_per_s": 900}).verdict() == "未达标"
    assert registry.summarize([5, 1, 3, 2, 4]) == {"median_ms": 3, "p95_ms": 5, "runs": 5}
    assert registry.median_of([{"p99_ms": 9.0, "tool": "wrk"}, {"p99_ms": 1.0}, {"p99_ms": 5.0}])["p99_ms"] == 5.0


def test_it_keeps_the_rest_of_the_docs_when_writing_the_latest_results(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# 基准测试\n\n前言\n\n" + report.DOCS_START + "\n旧结果\n" + report.DOCS_END + "\n\n后记\n")
    m = registry.Measurement("x", "某页面", "g", lambda ctx: {}, targets=(registry.Target("median_ms", "<", 100),))
    result = registry.Result(m, "ok", {"median_ms": 42.0, "p95_ms": 50.0, "queries": 4})
    data = report.payload(
        [result], info=report.machine(), scale={"households": 10}, command="manage.py benchmark", started=now()
    )
    report.write_docs(docs, [result], data, note="共用机器")
    text = docs.read_text()
    assert text.startswith("# 基准测试\n\n前言") and text.rstrip().endswith("后记")
    assert "旧结果" not in text
    assert "| 某页面 | 中位 42.0 ms，p95 50.0 ms，查询数 4 | 中位 < 100 ms | 达标 |" in text
    assert "共用机器" in text


def test_it_writes_a_wrk_script_and_reads_its_summary():
    spec = load.LoadSpec(
        url="http://127.0.0.1:1/m/api/visits/", method="POST", body='{"id": "{uuid}"}', households=(7,)
    )
    script = load._lua(spec)
    assert 'wrk.method = "POST"' in script and "local households = { 7 }" in script
    figures = load.parse_wrk(
        'noise\nWRK_JSON {"requests": 3000, "duration_us": 10000000, "connect": 0, "read": 1, "write": 0, '
        '"status": 2, "timeout": 0, "p50_us": 12500, "p99_us": 80000, "max_us": 90000}\n'
    )
    assert figures["requests_per_s"] == 300.0
    assert figures["p99_ms"] == 80.0
    assert figures["errors"] == 3


def test_it_only_loads_loopback_addresses():
    with pytest.raises(ValueError, match="回环"):
        load.run_python(load.LoadSpec(url="http://10.0.0.1:8000/healthz", seconds=1, max_requests=1))


def test_it_never_creates_or_builds_in_the_shared_test_database(capsys):
    assert createdb.main("postgres://postgres@127.0.0.1:5432/test") == 2
    assert "单独的库" in capsys.readouterr().err
    assert createdb.main("sqlite:///bench.sqlite3") == 0


def test_it_undoes_an_import_without_touching_the_city(places):
    build()
    county = places.xinjiang
    kept = Household.objects.count()
    last_org_id = PartyOrganization.objects.order_by("-pk").values_list("pk", flat=True).first()
    since = now()
    village = places.wangzhuang
    org = PartyOrganization.objects.create(name="基准导入党支部", county=county, town=village.town, village=village)
    member = PartyMember.objects.create(name="新党员", phone="13900000001", organization=org, county=county)
    household = factories.make_household(village, grid=factories.make_grid(village, "第99网格"))
    factories.make_assignment(household, member)
    measurements.undo_import(county.code, since, last_org_id)
    assert Household.objects.count() == kept
    assert not PartyMember.objects.filter(pk=member.pk).exists()
    assert not PartyOrganization.objects.filter(pk=org.pk).exists()
    assert not GridArea.objects.filter(village=village, name="第99网格").exists()
    assert Assignment.objects.count() == kept


def test_it_names_the_command_without_the_note(monkeypatch):
    monkeypatch.delenv("MAKELEVEL", raising=False)
    argv = ["manage.py", "benchmark", "--docs", "docs/benchmarks.md", "--note", "共用机器", "--json-out", "x.json"]
    monkeypatch.setattr(report.sys, "argv", argv)
    assert report.command_line() == "manage.py benchmark --docs docs/benchmarks.md"
    monkeypatch.setenv("MAKELEVEL", "1")
    assert report.command_line().startswith("make bench")


def test_it_sends_an_open_loop_run_at_its_rate_and_waits_for_every_answer():
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(201 if self.path == "/ok" else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        spec = load.OpenLoopSpec(url=f"{base}/ok", rate=50, seconds=1, method="POST", body='{"id": "{uuid}"}')
        figures = load.run_open_loop(spec)
        assert (figures["requests"], figures["errors"], figures["statuses"]) == (50, 0, {"201": 50})
        assert figures["offered_per_s"] == 50 and figures["p99_ms"] >= figures["p50_ms"] > 0
        failing = load.run_open_loop(load.OpenLoopSpec(url=f"{base}/bad", rate=20, seconds=1, method="POST"))
        assert failing["errors"] == 20 and failing["statuses"] == {"500": 20}
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ValueError, match="回环"):
        load.run_open_loop(load.OpenLoopSpec(url="http://10.0.0.1:8000/healthz", seconds=1))


# -- floors: each figure beside the floor of what it measures ---------------------------------------------------


def test_it_shows_each_figure_with_its_floor_and_the_ratio():
    m = registry.Measurement("x", "后台页", "g", lambda ctx: {})
    floor = {"figure": "median_ms", "value": 20.0, "what": "原始 SQL 加空白后台页"}
    result = registry.Result(m, "ok", {"median_ms": 52.0, "p95_ms": 60.0, "queries": 8, "floor": floor})
    shown = report.format_figures(result.figures)
    assert shown.startswith("中位 52.0 ms / 下限 20.0 ms = 2.6×，p95 60.0 ms，查询数 8")
    assert shown.endswith("下限：原始 SQL 加空白后台页")
    data = result.as_json()
    assert data["ratio"] == 2.6
    assert data["ratios"] == {"median_ms": 2.6}
    assert data["figures"]["floor"] == floor  # the floor itself stays in the figures


def test_it_takes_a_ratio_for_each_of_several_floors_and_none_without_one():
    m = registry.Measurement("x", "导出", "g", lambda ctx: {})
    floors = [
        {"figure": "seconds", "value": 2.0, "what": "读表加 COPY"},
        {"figure": "peak_mb", "value": 100.0, "what": "空进程"},
        {"figure": "rows_per_s", "value": 0, "what": "零不能作除数"},
    ]
    result = registry.Result(m, "ok", {"seconds": 9.0, "peak_mb": 295.0, "rows_per_s": 5, "floor": floors})
    data = result.as_json()
    assert data["ratio"] == 4.5
    assert data["ratios"] == {"seconds": 4.5, "peak_mb": 2.95, "rows_per_s": None}
    shown = report.format_figures(result.figures)
    assert "用时 9.0 秒 / 下限 2.0 秒 = 4.5×" in shown and "峰值内存 295.0 MB / 下限 100.0 MB = 3.0×" in shown
    assert "下限：读表加 COPY；空进程；零不能作除数" in shown
    plain = registry.Result(m, "ok", {"seconds": 9.0}).as_json()
    assert plain["ratio"] is None and plain["ratios"] == {}


def test_it_takes_the_median_of_the_floors_across_runs():
    runs = [
        {"seconds": 9.0, "floor": {"figure": "seconds", "value": 3.0, "what": "读表"}},
        {"seconds": 7.0, "floor": {"figure": "seconds", "value": 1.0, "what": "读表"}},
        {"seconds": 8.0, "floor": {"figure": "seconds", "value": 2.0, "what": "读表"}},
    ]
    merged = registry.median_of(runs)
    assert merged["floor"] == {"figure": "seconds", "value": 2.0, "what": "读表"}
    assert merged["seconds"] == 8.0 and merged["runs"] == 3
    listed = registry.median_of([{"floor": [{"figure": "p99_ms", "value": v}]} for v in (5, 1, 9)])
    assert listed["floor"] == [{"figure": "p99_ms", "value": 5}]


def test_it_writes_the_ratio_into_the_docs(tmp_path):
    docs = tmp_path / "benchmarks.md"
    m = registry.Measurement("x", "某页面", "g", lambda ctx: {})
    result = registry.Result(m, "ok", {"median_ms": 30.0, "floor": {"figure": "median_ms", "value": 10.0}})
    data = report.payload([result], info=report.machine(), scale={}, command="manage.py benchmark", started=now())
    report.write_docs(docs, [result], data)
    assert "| 某页面 | 中位 30.0 ms / 下限 10.0 ms = 3.0× | — | — |" in docs.read_text()


# -- the import and export floors, run at a tiny scale so a schema change cannot break them silently ----------


def test_it_runs_the_import_and_export_floors_and_leaves_nothing_behind(places, tmp_path, capsys):
    factories.make_member(places.zhouzhuang)  # floor-write links its households to a member of the county
    households = Household.objects.count()
    path = tmp_path / "floor.xlsx"
    call_command("dataio_bench", "build", file=str(path), rows=30)
    steps = (("floor-read", {}), ("floor-copy", {"rows": 30}), ("floor-write", {"rows": 30}), ("floor-export", {}))
    for step, extra in steps:
        capsys.readouterr()
        call_command("dataio_bench", step, file=str(path if step == "floor-read" else tmp_path / "out.xlsx"), **extra)
        figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert figures["seconds"] >= 0 and figures["peak_mb"] > 0, step
        if step != "floor-export":
            assert figures["rows"] >= 30, step  # read: title, 填报单位 and header rows too
    assert Household.objects.count() == households and not Assignment.objects.exists()


def test_it_copies_in_the_floor_every_column_the_import_writes_for_a_new_household():
    from outreach.dataio.importers.households import NEW_HOUSEHOLD_FIELDS

    required = {
        f.name
        for f in Household._meta.concrete_fields
        if not f.null and f.db_default is models.NOT_PROVIDED and not f.primary_key
    }
    assert required <= set(NEW_HOUSEHOLD_FIELDS)
