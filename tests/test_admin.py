"""Every admin page loads, in Chinese, and list pages cost a fixed number of queries."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from outreach.accounts.models import AccessLog
from outreach.accounts.services import record_access
from outreach.campaigns.models import Assignment
from tests.factories import make_assignment, make_household, make_member, make_visit

pytestmark = pytest.mark.django_db

# Our own models with demo rows: django-axes' lockout tables, the import/export job lists and the task
# queue have no add form and no demo rows (tests/test_dataio_admin.py covers the job lists).
REGISTERED = [
    model
    for model in admin.site._registry
    if model.__module__.startswith("outreach.") and model._meta.app_label != "dataio"
]


@pytest.fixture
def demo(places):
    call_command("seed_demo", verbosity=0)
    # The demo has no work-group robot (one needs a real group's webhook): one here, with a logged attempt.
    from outreach.notify.models import PushAttempt, PushMessage, WorkGroupRobot

    robot = WorkGroupRobot.objects.create(
        name="新绛县平安办群", kind="dingtalk", webhook_url="https://oapi.dingtalk.com/robot/send?access_token=t"
    )
    message = PushMessage.objects.create(robot=robot, topic="test", title="测试", text="测试")
    PushAttempt.objects.create(message=message, number=1, status_code=200, errcode=0, ok=True)


class _Request:
    def __init__(self, user):
        self.user = user


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_it_opens_every_changelist_add_and_change_form(demo, places, superuser, client):
    from outreach.dashboards.supervision import open_order

    client.force_login(superuser)
    record_access(superuser, AccessLog.Kind.EXPORT, "住户", rows=1)
    # The demo issues no bulletin (demo sits below dashboards), so no 督办单 either: one by hand.
    open_order(code=places.longxing.code, reason="manual", reason_text="演示")
    for model in REGISTERED:
        label = model._meta.label
        response = client.get(_url(model, "changelist"))
        assert response.status_code == 200, label
        assert "反诈包联" in response.content.decode(), label
        # Models filled only by a service (access log, integrity flags, call-backs) have no add page.
        expected_add = 200 if admin.site._registry[model].has_add_permission(_Request(superuser)) else 403
        assert client.get(_url(model, "add")).status_code == expected_add, label
        obj = model.objects.order_by("pk").first()
        assert obj is not None, f"the demo has no {label}"
        assert client.get(_url(model, "change", obj.pk)).status_code == 200, label


def test_it_speaks_chinese(demo, superuser, client):
    client.force_login(superuser)
    body = client.get(_url(Assignment, "changelist")).content.decode()
    assert "包联关系" in body and "搜索" in body


def test_it_searches_households_by_phone_name_and_address(places, superuser, client):
    make_household(places.zhouzhuang, head_name="张建国", phone="13912345678", address="周庄村东街1号")
    make_household(places.zhouzhuang, head_name="李秀英", phone="13712345678", address="周庄村西街2号")
    client.force_login(superuser)
    url = reverse("admin:people_household_changelist")
    for term in ("13912345678", "张建", "东街"):
        body = client.get(url, {"q": term}).content.decode()
        assert "张建国" in body and "李秀英" not in body, term


@pytest.mark.parametrize(
    "url_name",
    ["people_household", "campaigns_assignment", "visits_visit", "people_partymember"],
)
def test_it_lists_with_queries_that_do_not_grow_with_rows(
    url_name, places, superuser, client, django_assert_max_num_queries
):
    client.force_login(superuser)
    url = reverse(f"admin:{url_name}_changelist")

    def add_rows(n):
        for _ in range(n):
            household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
            member = make_member(places.zhouzhuang)
            make_assignment(household, member)
            make_visit(household, visitor=member)

    add_rows(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_rows(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_it_hands_a_members_households_to_another_member(places, superuser, client):
    leaving = make_member(places.zhouzhuang, name="王外出")
    taking = make_member(places.zhouzhuang, name="李接手")
    for _ in range(3):
        make_assignment(make_household(places.zhouzhuang), leaving)
    client.force_login(superuser)
    url = reverse("admin:people_partymember_changelist")
    form = client.post(url, {"action": "reassign_households", "_selected_action": [leaving.pk]})
    assert form.status_code == 200
    assert "移交给" in form.content.decode()
    done = client.post(
        url,
        {"action": "reassign_households", "_selected_action": [leaving.pk], "to_member": taking.pk, "confirm": "1"},
        follow=True,
    )
    assert "已将 3 户移交给 李接手" in done.content.decode()
    assert Assignment.objects.filter(member=taking).count() == 3
    assert not Assignment.objects.filter(member=leaving).exists()


def test_it_refuses_to_hand_households_to_another_county(places, superuser, client):
    leaving = make_member(places.zhouzhuang)
    elsewhere = make_member(places.jishan_village)
    make_assignment(make_household(places.zhouzhuang), leaving)
    client.force_login(superuser)
    url = reverse("admin:people_partymember_changelist")
    response = client.post(
        url,
        {"action": "reassign_households", "_selected_action": [leaving.pk], "to_member": elsewhere.pk, "confirm": "1"},
    )
    assert response.status_code == 200
    assert Assignment.objects.filter(member=leaving).count() == 1


def test_it_sends_each_search_to_the_one_column_it_looks_like(places, superuser, client):
    make_household(places.zhouzhuang, head_name="张建国", phone="13912345678", address="周庄村东街1号")
    make_household(places.zhouzhuang, head_name="李秀英", phone="13712345678", address="张家巷2号")
    client.force_login(superuser)
    url = reverse("admin:people_household_changelist")

    def found(term):
        body = client.get(url, {"q": term}).content.decode()
        return {name for name in ("张建国", "李秀英") if name in body}

    assert found("张") == {"张建国"}  # a name: 户主姓名 from its start, not 张家巷 in an address
    assert found("张家巷") == {"李秀英"}  # 巷 marks an address
    assert found("139 1234 5678") == {"张建国"}  # a phone as people type it: exact match only
    assert found("1391234") == set()  # part of a phone finds nothing rather than scanning
