"""The phone pages (/m/): the visit endpoint's idempotent save, scoping, the lists, integrity flags, call-backs."""

import base64
import datetime as dt
import json
import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outreach.accounts.models import AccessLog
from outreach.mobile import services
from outreach.mobile.models import CallbackCheck, IntegrityFlag
from outreach.people.models import Resident
from outreach.visits.models import FraudType, Visit
from tests.factories import PASSWORD, make_assignment, make_campaign, make_household, make_member, make_visit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Signatures and photos the tests store go to a temporary folder, not the checkout's media/.
    settings.MEDIA_ROOT = tmp_path


API = "/m/api/visits/"
# The smallest valid PNG (1×1), and a different one: enough for the server's checks.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_OTHER = PNG + b"\x00"


def data_url(data: bytes = PNG) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def local(*args):
    return timezone.make_aware(dt.datetime(*args))


@pytest.fixture
def campaign(db):
    today = timezone.localdate()
    return make_campaign(start_date=today - dt.timedelta(days=30), end_date=today + dt.timedelta(days=30))


@pytest.fixture
def home(places, users):
    """A household in the grid worker's grid, with two residents, and one in the other grid."""
    mine = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="张三", address="周庄村1号")
    Resident.objects.create(household=mine, name="张三", is_head=True)
    Resident.objects.create(household=mine, name="李四", app_installed=True)
    other = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid2, head_name="王五")
    return type("Homes", (), {"mine": mine, "other": other})


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def payload(household, **overrides):
    scripts = list(FraudType.objects.values_list("pk", flat=True)[:2])
    body = {
        "client_id": str(uuid.uuid4()),
        "household": household.pk,
        "visited_at": timezone.now().isoformat(),
        "entered": True,
        "met_person": True,
        "explained": True,
        "signed": True,
        "fraud_types": scripts,
        "left_pledge": True,
        "signature": data_url(),
        "notes": "讲了刷单",
    }
    body.update(overrides)
    return body


def post(client, body):
    return client.post(API, data=json.dumps(body), content_type="application/json")


# --- the visit endpoint ---------------------------------------------------------------------------------


def test_it_stores_a_resent_visit_once(users, home, campaign):
    client = login(users.grid)
    body = payload(home.mine)
    first = post(client, body)
    again = post(client, body)
    assert first.status_code == 201 and first.json()["created"] is True
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    assert Visit.objects.filter(client_id=body["client_id"]).count() == 1
    visit = Visit.objects.get(client_id=body["client_id"])
    assert visit.recorded_by == users.grid
    assert visit.campaign == campaign
    assert visit.is_qualified
    assert visit.fraud_types.count() == 2
    assert visit.signature.name.endswith(".png")
    assert len(visit.signature_sha256) == 64
    (created_row,) = visit.history.all()  # the change history sees the phone's visit, once
    assert created_row.history_type == "+" and created_row.history_user == users.grid


def test_it_stores_a_visit_once_when_the_resend_says_something_else(users, home, campaign):
    client = login(users.grid)
    body = {**payload(home.mine), "household": str(home.mine.pk)}  # load tools often send ids as strings
    assert post(client, body).status_code == 201
    post(client, {**body, "notes": "改过的", "met_person": False})
    visit = Visit.objects.get(client_id=body["client_id"])
    assert visit.notes == "讲了刷单" and visit.met_person is True


def test_it_answers_404_for_a_household_outside_the_scope(users, home, campaign):
    response = post(login(users.grid), payload(home.other))
    assert response.status_code == 404
    assert not Visit.objects.exists()


def test_it_lets_a_member_record_only_assigned_households(places, users, home, campaign):
    member = make_member(places.zhouzhuang, user=users.member)
    make_assignment(home.mine, member, campaign)
    client = login(users.member)
    assert post(client, payload(home.mine)).status_code == 201
    assert post(client, payload(home.other)).status_code == 404
    assert Visit.objects.get().visitor == member


def test_it_asks_for_the_login_in_json(home, campaign):
    response = post(Client(), payload(home.mine))
    assert response.status_code == 401 and response.json()["login"] is True


def test_it_needs_the_csrf_token_from_the_cookie(users, home, campaign):
    client = Client(enforce_csrf_checks=True)
    client.login(username=users.grid.username, password=PASSWORD)
    client.get("/m/")  # the page sets the csrftoken cookie
    body = json.dumps(payload(home.mine))
    assert client.post(API, data=body, content_type="application/json").status_code == 403
    token = client.cookies["csrftoken"].value
    response = client.post(API, data=body, content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"signature": ""}, "signature", "签名框"),
        ({"fraud_types": []}, "fraud_types", "至少勾选一种"),
        ({"visited_at": "昨天"}, "visited_at", "时间格式"),
        ({"signature": "data:image/png;base64,AAAA"}, "signature", "不是可识别的图片"),
        ({"extra": {"app_installed": 0, "app_registered": 2}}, "extra", "注册不能多于安装"),
        ({"notes": "很" * 501}, "notes", "500"),
        ({"extra": [1, 2]}, "extra", "无法识别"),
        ({"fraud_types": "1,2"}, "fraud_types", "无法识别"),
        ({"residents": {"id": 1}}, "residents", "无法识别"),
        ({"residents": [{"id": None}]}, "residents", "无法识别"),
        ({"residents": [{"id": 1, "app_installed": "也许"}]}, "residents", "无法识别"),
        ({"visited_at": 12345}, "visited_at", "时间格式"),
        ({"visited_at": "2019-12-31T10:00:00+08:00"}, "visited_at", "太早"),
        ({"visited_at": "2099-01-01T10:00:00+08:00"}, "visited_at", "晚于当前时间"),
        ({"fraud_types": [999_999]}, "fraud_types", "已停用"),
        ({"fraud_types": [None]}, "fraud_types", "无法识别"),
        ({"signature": "abc"}, "signature", "格式不对"),
        ({"signature": "data:image/png;base64,!!"}, "signature", "已损坏"),
        ({"photo": "data:image/jpeg;base64," + "A" * 3_400_000}, "photo", "太大"),
        ({"latitude": 95, "longitude": 111.2}, "location", "位置数据无效"),
        ({"latitude": "北纬", "longitude": 111.2}, "location", "位置数据无效"),
        ({"extra": {"app_installed": 51}}, "extra", "名册外安装人数须在0到50之间"),
        ({"extra": {"app_registered": "两个"}}, "extra", "名册外注册人数须填写整数"),
        ({"signed": "也许"}, "signed", "无法识别"),
        ({"notes": "讲了\x00刷单"}, "notes", "无法保存"),
    ],
)
def test_it_rejects_a_bad_visit_with_a_chinese_message(users, home, campaign, overrides, field, words):
    response = post(login(users.grid), payload(home.mine, **overrides))
    assert response.status_code == 400
    assert any(words in message for message in response.json()["errors"][field])
    assert not Visit.objects.exists()


def test_it_reports_every_wrong_field_at_once(users, home, campaign):
    body = payload(home.mine, visited_at="昨天", notes="很" * 501, latitude=95, longitude=1, signature="", photo="x")
    errors = post(login(users.grid), body).json()["errors"]
    assert set(errors) == {"visited_at", "notes", "location", "signature", "photo"}
    assert errors["signature"] == ["已勾选“真签名”，请住户在签名框内签名"]
    assert all(isinstance(message, str) for messages in errors.values() for message in messages)


def test_it_checks_the_client_id_and_then_the_household_before_anything_else(users, home, campaign):
    client = login(users.grid)
    # A bad client id is the only answer, even for a household outside the scope.
    response = post(client, payload(home.other, client_id="not-a-uuid", signature=""))
    assert response.status_code == 400 and set(response.json()["errors"]) == {"client_id"}
    # Then a household that is not an id; then one outside the scope is a 404, whatever else is wrong.
    response = post(client, {**payload(home.mine, signature=""), "household": "第3户"})
    assert response.status_code == 400 and response.json()["errors"] == {"household": ["没有指明走访的住户"]}
    assert post(client, payload(home.other, signature="", visited_at="昨天")).status_code == 404
    assert not Visit.objects.exists()


def test_it_takes_yes_as_the_phone_or_a_tool_may_send_it(users, home, campaign):
    body = payload(home.mine, entered="on", met_person=1, explained="true", signed="是", left_pledge="0")
    assert post(login(users.grid), body).status_code == 201
    visit = Visit.objects.get()
    assert (visit.entered, visit.met_person, visit.explained, visit.signed, visit.left_pledge) == (
        True,
        True,
        True,
        True,
        False,
    )


def test_it_validates_the_payload_with_a_django_form(users, home, campaign):
    from outreach.mobile.forms import VisitForm

    form = VisitForm(payload(home.mine, notes="很" * 501, fraud_types=[]), user=users.grid)
    assert not form.is_valid()
    assert form.phone_errors() == {
        "fraud_types": ["已勾选“真讲解”，请至少勾选一种讲解过的诈骗类型"],
        "notes": ["备注不能超过500字"],
    }
    form = VisitForm(payload(home.mine), user=users.grid)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["household"] == home.mine and form.cleaned_data["campaign"] == campaign


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_it_answers_a_wrong_method_in_json(users, method, db):
    response = getattr(login(users.grid), method)(API)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json() == {"ok": False, "errors": {"__all__": ["只接受 POST"]}}


def test_it_refuses_a_body_over_the_limit_in_json(users, home, campaign, settings):
    settings.MOBILE_MAX_VISIT_BYTES = 100
    response = post(login(users.grid), payload(home.mine))
    assert response.status_code == 413 and "太大" in response.json()["errors"]["__all__"][0]
    assert not Visit.objects.exists()


def test_it_stores_the_photo_and_the_location(users, home, campaign):
    jpeg = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0" + b"0" * 100).decode()
    post(login(users.grid), payload(home.mine, photo=jpeg, latitude=35.615123, longitude=111.220301))
    visit = Visit.objects.get()
    assert visit.photo.name.endswith(".jpg") and visit.photo.size == 104
    assert float(visit.latitude) == pytest.approx(35.615123) and float(visit.longitude) == pytest.approx(111.220301)


def test_it_updates_the_residents_and_the_visit_counts_on_a_new_visit_only(users, home, campaign):
    zhang, li = home.mine.residents.order_by("id")
    body = payload(
        home.mine,
        residents=[
            {"id": zhang.pk, "app_verified": True, "alerts_enabled": True},
            {"id": li.pk, "app_installed": True},  # already installed: nothing new
        ],
        extra={"app_installed": 1, "app_registered": 1},
    )
    client = login(users.grid)
    post(client, body)
    zhang.refresh_from_db()
    assert (zhang.app_installed, zhang.app_registered, zhang.app_verified, zhang.alerts_enabled) == (True,) * 4
    visit = Visit.objects.get()
    assert (visit.app_installed, visit.app_registered, visit.app_verified, visit.alerts_enabled) == (2, 2, 1, 1)
    Resident.objects.filter(pk=zhang.pk).update(alerts_enabled=False)
    post(client, body)  # a resend changes nothing
    zhang.refresh_from_db()
    assert zhang.alerts_enabled is False


def test_it_ignores_residents_of_other_households(users, home, campaign):
    stranger = Resident.objects.create(household=home.other, name="外人")
    post(login(users.grid), payload(home.mine, residents=[{"id": stranger.pk, "app_installed": True}]))
    stranger.refresh_from_db()
    assert stranger.app_installed is False


def test_it_posts_a_visit_in_few_queries(users, home, campaign):
    client = login(users.grid)
    post(client, payload(home.mine))
    body = payload(home.mine)  # no campaign given: the campaign rule decides
    with CaptureQueriesContext(connection) as captured:
        assert post(client, body).status_code == 201
    sql = [q["sql"] for q in captured.captured_queries]
    # Reads: the session, the user, then ONE query for the household in the grid worker's scope (their grid links
    # read in the same statement) with the member behind the login and the active scripts among those sent, and the
    # campaign rule's snapshot (``campaigns.rules.visit_campaign``): on PostgreSQL in the household query's round
    # trip (two statements, one execute), elsewhere a query of its own. Writes, in one transaction (a savepoint
    # inside the test's): INSERT … ON CONFLICT for the visit, then its change-history row, the integrity check's mark
    # (village-day, ON CONFLICT: the first POST marked it, so no check job is asked for after the commit), its scripts and
    # the dashboards' stale mark (ON CONFLICT likewise): on PostgreSQL those four in one WITH statement
    # (``outreach.lib.batch``), elsewhere one each. No per-process cache: another worker would answer stale.
    reads = [s for s in sql if s.startswith("SELECT")]
    writes = [s for s in sql if s.startswith(("INSERT", "WITH"))]
    tables = [t for s in writes for t in re.findall(r'INSERT (?:OR IGNORE )?INTO "?(\w+)', s)]
    assert len(reads) == (3 if connection.vendor == "postgresql" else 4), reads
    assert tables == [
        "visits_visit",
        "visits_historicalvisit",
        "mobile_pendingintegritycheck",
        "visits_visit_fraud_types",
        "dashboards_pendingvillage",
    ]
    assert len(writes) == (2 if connection.vendor == "postgresql" else 5), writes
    assert len(sql) == len(reads) + len(writes) + 2, sql  # + SAVEPOINT and RELEASE


def test_it_refuses_inactive_scripts_with_the_household_read_in_the_same_query(users, home, campaign):
    stopped = FraudType.objects.create(name="已停用的说法", is_active=False)
    active = FraudType.objects.filter(is_active=True).first()
    response = post(login(users.grid), payload(home.mine, fraud_types=[active.pk, stopped.pk]))
    assert response.status_code == 400
    assert response.json()["errors"] == {"fraud_types": ["有的诈骗类型已停用，请刷新页面后重新勾选"]}
    other_grid = post(login(users.grid), payload(home.other, fraud_types=[stopped.pk]))
    assert other_grid.status_code == 404  # out of scope answers 404 whatever else is wrong
    assert not Visit.objects.exists()


# --- pages ----------------------------------------------------------------------------------------------


def test_it_lists_my_households_vulnerable_first_with_their_state(places, users, home, campaign):
    lonely = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="赵六", elderly_alone=True)
    make_visit(home.mine, campaign=campaign, signed=True)
    response = login(users.grid).get("/m/")
    rows = response.context["page"]["rows"]
    assert [r["id"] for r in rows] == [lonely.pk, home.mine.pk]
    assert rows[0]["states"] == ["未走访"] and "独居老人" in rows[0]["tags"]
    assert rows[1]["states"][:2] == ["已走访", "已签承诺书"]
    assert "王五" not in response.content.decode()


def test_it_searches_and_filters_the_unvisited(places, users, home, campaign):
    make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="赵六", address="东街")
    make_visit(home.mine, campaign=campaign)
    client = login(users.grid)
    names = lambda r: [row["head_name"] for row in r.context["page"]["rows"]]  # noqa: E731
    assert names(client.get("/m/", {"q": "东街"})) == ["赵六"]
    assert names(client.get("/m/", {"q": "张"})) == ["张三"]
    assert names(client.get("/m/", {"unvisited": "1"})) == ["赵六"]


def test_it_pages_the_list_without_a_count(places, users, campaign, django_assert_max_num_queries):
    for n in range(23):
        make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name=f"户{n:02d}")
    client = login(users.grid)
    with django_assert_max_num_queries(7) as captured:
        first = client.get("/m/")
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    assert len(first.context["page"]["rows"]) == 20 and first.context["page"]["has_next"]
    second = client.get("/m/", {"page": 2})
    assert len(second.context["page"]["rows"]) == 3 and not second.context["page"]["has_next"]


def test_it_shows_a_household_with_residents_visits_and_what_is_missing(users, home, campaign):
    make_visit(home.mine, campaign=campaign, met_person=True, signed=False)
    response = login(users.grid).get(reverse("mobile:household", args=[home.mine.pk]))
    text = response.content.decode()
    assert response.status_code == 200
    assert "李四" in text and "未签承诺书" in text and "未实名：张三、李四" in text
    assert home.mine.phone in text  # grid workers call their households: full number


def test_it_answers_404_for_another_grids_household_pages(users, home, campaign):
    client = login(users.grid)
    assert client.get(reverse("mobile:household", args=[home.other.pk])).status_code == 404
    assert client.get(reverse("mobile:visit_form", args=[home.other.pk])).status_code == 404


def test_it_renders_the_visit_form_without_inline_code(users, home, campaign):
    text = login(users.grid).get(reverse("mobile:visit_form", args=[home.mine.pk])).content.decode()
    assert "冒充公检法" in text and 'id="signature"' in text
    assert "<script>" not in text and "style=" not in text and " onclick=" not in text


def test_it_logs_in_on_the_phone_login_page(users):
    client = Client()
    response = client.post("/m/login/", {"username": users.grid.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/m/"
    wrong = client.post("/m/login/", {"username": users.grid.username, "password": "wrong"})
    assert wrong.status_code in (200, 302)


def test_it_serves_the_service_worker_for_the_phone_pages(db):
    response = Client().get("/m/sw.js")
    assert response["Service-Worker-Allowed"] == "/m/"
    assert b"addEventListener" in response.content


# --- integrity flags ------------------------------------------------------------------------------------


def flags(kind):
    return set(IntegrityFlag.objects.filter(kind=kind).values_list("visit_id", flat=True))


def test_it_flags_many_households_in_a_few_minutes(places, users, campaign, settings):
    settings.MOBILE_RAPID_HOUSEHOLDS, settings.MOBILE_RAPID_MINUTES = 4, 10
    at = local(2026, 1, 1, 10, 0)
    fast = [
        make_visit(
            make_household(places.zhouzhuang),
            campaign=campaign,
            recorded_by=users.grid,
            visited_at=at + dt.timedelta(minutes=2 * i),
        )
        for i in range(4)
    ]
    slow = [
        make_visit(
            make_household(places.zhouzhuang),
            campaign=campaign,
            recorded_by=users.other_grid,
            visited_at=at + dt.timedelta(minutes=15 * i),
        )
        for i in range(4)
    ]
    services.scan_visits()
    assert flags(IntegrityFlag.Kind.RAPID) == {v.pk for v in fast}
    assert not flags(IntegrityFlag.Kind.RAPID) & {v.pk for v in slow}


def test_it_flags_the_same_signature_on_different_households(places, campaign):
    from django.core.files.base import ContentFile

    same = [
        make_visit(make_household(places.zhouzhuang), campaign=campaign, signature=ContentFile(PNG, name="a.png"))
        for _ in range(2)
    ]
    household = make_household(places.zhouzhuang)
    own = [make_visit(household, campaign=campaign, signature=ContentFile(PNG_OTHER, name="b.png")) for _ in range(2)]
    services.scan_visits()
    assert flags(IntegrityFlag.Kind.SAME_SIGNATURE) == {v.pk for v in same}
    assert not flags(IntegrityFlag.Kind.SAME_SIGNATURE) & {v.pk for v in own}


def test_it_flags_visits_outside_the_campaign_dates(places):
    campaign = make_campaign(name="短期", start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 31))
    household = make_household(places.zhouzhuang)
    before = make_visit(household, campaign=campaign, visited_at=local(2026, 2, 28, 10, 0))
    inside = make_visit(household, campaign=campaign, visited_at=local(2026, 3, 31, 20, 0))
    after = make_visit(household, campaign=campaign, visited_at=local(2026, 4, 1, 9, 0))
    services.scan_visits()
    assert flags(IntegrityFlag.Kind.OUTSIDE_DATES) == {before.pk, after.pk}
    assert inside.pk not in flags(IntegrityFlag.Kind.OUTSIDE_DATES)


def test_it_flags_visits_at_night(places, campaign):
    household = make_household(places.zhouzhuang)
    late = make_visit(household, campaign=campaign, visited_at=local(2026, 1, 1, 23, 30))
    early = make_visit(household, campaign=campaign, visited_at=local(2026, 1, 2, 5, 10))
    day = make_visit(household, campaign=campaign, visited_at=local(2026, 1, 2, 21, 50))
    services.scan_visits()
    assert flags(IntegrityFlag.Kind.NIGHT) == {late.pk, early.pk}
    assert day.pk not in flags(IntegrityFlag.Kind.NIGHT)


def test_it_flags_a_location_far_from_the_villages_other_visits(places, campaign):
    near = [
        make_visit(
            make_household(places.zhouzhuang), campaign=campaign, latitude=35.6150 + i / 1000, longitude=111.2200
        )
        for i in range(4)
    ]
    far = make_visit(make_household(places.zhouzhuang), campaign=campaign, latitude=35.7000, longitude=111.2200)
    elsewhere = make_visit(make_household(places.wangzhuang), campaign=campaign, latitude=36.0, longitude=112.0)
    services.scan_visits()
    assert flags(IntegrityFlag.Kind.FAR_AWAY) == {far.pk}  # ~9 km; the lone 王庄村 visit has nothing to compare
    assert "公里" in IntegrityFlag.objects.get(visit=far, kind=IntegrityFlag.Kind.FAR_AWAY).detail
    assert not {v.pk for v in near} & flags(IntegrityFlag.Kind.FAR_AWAY) and elsewhere.pk not in flags(
        IntegrityFlag.Kind.FAR_AWAY
    )


def test_it_keeps_reviews_when_the_scan_runs_again(places, campaign, users):
    visit = make_visit(make_household(places.zhouzhuang), campaign=campaign, visited_at=local(2026, 1, 1, 23, 0))
    services.scan_visits()
    services.review_flags(users.county, IntegrityFlag.objects.all(), IntegrityFlag.Status.CLEARED, "确认是晚上入户")
    services.scan_visits()
    flag = IntegrityFlag.objects.get(visit=visit, kind=IntegrityFlag.Kind.NIGHT)
    assert flag.status == IntegrityFlag.Status.CLEARED and flag.reviewed_by == users.county


def test_it_shows_flags_in_the_admin_only_in_scope(places, campaign, users):
    mine = make_visit(make_household(places.zhouzhuang), campaign=campaign, visited_at=local(2026, 1, 1, 23, 0))
    theirs = make_visit(make_household(places.jishan_village), campaign=campaign, visited_at=local(2026, 1, 1, 23, 0))
    services.scan_visits()
    client = login(users.county)
    page = client.get("/admin/mobile/integrityflag/")
    assert page.status_code == 200
    shown = {flag.visit_id for flag in page.context["cl"].result_list}  # noqa: C416
    assert shown == {mine.pk}
    other = IntegrityFlag.objects.filter(visit=theirs).first()
    assert client.get(f"/admin/mobile/integrityflag/{other.pk}/change/").status_code in (302, 404)
    assert login(users.grid).get("/admin/mobile/integrityflag/").status_code == 403


# --- 回访抽查 --------------------------------------------------------------------------------------------


def test_it_draws_a_random_sample_per_worker_in_scope(places, users, campaign):
    for _ in range(5):
        make_visit(make_household(places.zhouzhuang), campaign=campaign, recorded_by=users.grid)
    for _ in range(2):
        make_visit(make_household(places.zhouzhuang), campaign=campaign, recorded_by=users.other_grid)
    outsider = make_visit(make_household(places.jishan_village), campaign=campaign, recorded_by=users.other_county)
    assert services.draw_callback_sample(users.county, per_worker=3) == 5
    per_worker = {w: CallbackCheck.objects.filter(worker=w).count() for w in (users.grid, users.other_grid)}
    assert per_worker == {users.grid: 3, users.other_grid: 2}
    assert not CallbackCheck.objects.filter(visit=outsider).exists()
    assert services.draw_callback_sample(users.county, per_worker=3) == 2  # only the grid worker's 2 left


def test_it_records_answers_and_shows_the_confirmed_share_per_worker(places, users, campaign):
    for _ in range(4):
        make_visit(make_household(places.zhouzhuang), campaign=campaign, recorded_by=users.grid)
    services.draw_callback_sample(users.county, per_worker=4)
    checks = list(CallbackCheck.objects.order_by("id"))
    client = login(users.county)
    for check, result in zip(checks, ["confirmed", "confirmed", "denied"], strict=False):
        client.post("/m/review/callbacks/", {"action": "answer", "check": check.pk, "result": result})
    page = client.get("/m/review/callbacks/")
    (row,) = page.context["workers"]
    assert (row["confirmed"], row["denied"], row["pending"], row["answered"]) == (2, 1, 1, 3)
    assert row["share"] == pytest.approx(2 / 3)
    assert "67%" in page.content.decode()


def test_it_keeps_call_backs_in_scope(places, users, campaign):
    make_visit(make_household(places.jishan_village), campaign=campaign, recorded_by=users.other_county)
    services.draw_callback_sample(users.other_county, per_worker=1)
    check = CallbackCheck.objects.get()
    client = login(users.county)
    response = client.post("/m/review/callbacks/", {"action": "answer", "check": check.pk, "result": "denied"})
    assert response.status_code == 404
    assert client.post("/m/review/callbacks/", {"action": "reveal", "check": check.pk}).status_code == 404
    assert client.post("/m/review/callbacks/", {"action": "reveal", "check": "第1条"}).status_code == 404
    check.refresh_from_db()
    assert check.result == CallbackCheck.Result.PENDING
    assert login(users.grid).get("/m/review/callbacks/").status_code == 403


def test_it_logs_revealing_a_phone_for_a_call_back(places, users, campaign):
    household = make_household(places.zhouzhuang)
    make_visit(household, campaign=campaign, recorded_by=users.grid)
    services.draw_callback_sample(users.county, per_worker=1)
    client = login(users.county)
    masked = client.get("/m/review/callbacks/").content.decode()
    assert household.phone not in masked
    check = CallbackCheck.objects.get()
    shown = client.post("/m/review/callbacks/", {"action": "reveal", "check": check.pk}).content.decode()
    assert household.phone in shown
    assert AccessLog.objects.filter(kind=AccessLog.Kind.REVEAL, user=users.county).count() == 1


def test_it_keeps_the_phone_pages_light(users, home, campaign):
    from django.contrib.staticfiles import finders

    client = login(users.grid)
    assets = sum(len(open(finders.find(f"mobile/{name}"), "rb").read()) for name in ("app.js", "mobile.css"))
    for url in (
        "/m/",
        reverse("mobile:household", args=[home.mine.pk]),
        reverse("mobile:visit_form", args=[home.mine.pk]),
    ):
        html = client.get(url).content
        assert b"cdn" not in html.lower()
        assert len(html) + assets < 200_000


def test_it_shows_a_member_only_the_assigned_households(places, users, home, campaign):
    member = make_member(places.zhouzhuang, user=users.member)
    make_assignment(home.mine, member, campaign)
    client = login(users.member)
    rows = client.get("/m/").context["page"]["rows"]
    assert [r["id"] for r in rows] == [home.mine.pk]
    assert client.get(reverse("mobile:household", args=[home.mine.pk])).status_code == 200
    assert client.get(reverse("mobile:household", args=[home.other.pk])).status_code == 404


@pytest.mark.parametrize("body", ["not json", "[]", '{"client_id": "{uuid}", "household": 1}', '{"household": null}'])
def test_it_answers_a_malformed_body_with_a_json_400(users, home, campaign, body):
    response = login(users.grid).post(API, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json()["ok"] is False


def test_it_keeps_one_signature_file_for_a_resent_visit(users, home, campaign, settings):
    from pathlib import Path

    client = login(users.grid)
    body = payload(home.mine)
    for _ in range(3):
        post(client, body)
    files = [p for p in Path(settings.MEDIA_ROOT).rglob("*.png")]
    assert [p.name for p in files] == [Path(Visit.objects.get().signature.name).name]


def test_it_checks_recent_visits_from_the_command(places, campaign):
    from io import StringIO

    from django.core.management import call_command

    make_visit(make_household(places.zhouzhuang), campaign=campaign, visited_at=local(2026, 1, 1, 23, 30))
    out = StringIO()
    call_command("check_visit_integrity", "--days", "1", stdout=out)
    assert "夜间走访：1条" in out.getvalue()
    assert IntegrityFlag.objects.filter(kind=IntegrityFlag.Kind.NIGHT).count() == 1


# --- a client id names one visit (security round two, defect 4) ----------------------------------------


def test_it_refuses_a_client_id_reused_for_another_household_and_never_returns_that_visit(users, home, campaign):
    client = login(users.grid)
    body = payload(home.mine)
    first = post(client, body)
    assert first.status_code == 201
    other = make_household(home.mine.village, grid=users.grid.grids.first(), head_name="赵六")
    reused = post(client, payload(other, client_id=body["client_id"]))
    assert reused.status_code == 409
    answer = reused.json()
    assert (
        answer["conflict"] is True and "id" not in answer and "已被另一条走访使用" in answer["errors"]["client_id"][0]
    )
    assert list(Visit.objects.values_list("household_id", flat=True)) == [home.mine.pk]
    # The same id, household and recorder is still a resend.
    assert post(client, body).status_code == 200


def test_it_refuses_another_recorder_resending_someone_elses_client_id(places, users, home, campaign):
    body = payload(home.mine)
    assert post(login(users.grid), body).status_code == 201
    users.other_grid.grids.add(places.zhouzhuang_grid)
    stolen = post(login(users.other_grid), body)
    assert stolen.status_code == 409 and "id" not in stolen.json()
    assert Visit.objects.get().recorded_by == users.grid


def test_it_refuses_a_campaign_that_does_not_run_in_the_households_county(places, users, home, campaign):
    jishan_only = make_campaign(name="稷山专项", start_date=campaign.start_date, end_date=campaign.end_date)
    jishan_only.counties.set([places.jishan])
    response = post(login(users.grid), payload(home.mine, campaign=jishan_only.pk))
    assert response.status_code == 400
    assert "不包括这一户所在的县" in response.json()["errors"]["campaign"][0]
    assert not Visit.objects.exists()


def test_the_households_app_badge_and_its_missing_list_read_the_same_residents(users, home, campaign):
    # 张三 not registered, 李四 registered in the roster; a visit says one person registered on the spot.
    Resident.objects.filter(household=home.mine, name="李四").update(app_registered=True)
    make_visit(home.mine, campaign=campaign, recorded_by=users.grid, app_installed=1, app_registered=1)
    client = login(users.grid)
    card = client.get(reverse("mobile:home")).content.decode()
    page = client.get(reverse("mobile:household", args=[home.mine.pk])).content.decode()
    for html in (card, page):
        assert "App部分注册" in html and "App已注册" not in html
    assert "未注册：张三" in page
    Resident.objects.filter(household=home.mine).update(app_registered=True)
    page = client.get(reverse("mobile:household", args=[home.mine.pk])).content.decode()
    assert "App已注册" in page and "未注册：" not in page
