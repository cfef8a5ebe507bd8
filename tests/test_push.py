"""签发 and ``push_chase`` push to the work groups' robots: the payloads, the 钉钉 signature, retries with
backoff logged attempt by attempt, and a 签发 that never waits for (or fails because of) a group.

Every robot here is ``tests.group_server.RobotServer`` on 127.0.0.1.
"""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from outreach.dashboards import bulletins
from outreach.dashboards.models import Bulletin, SupervisionOrder
from outreach.lib.append_only import AppendOnlyError
from outreach.notify import webhooks
from outreach.notify.models import PushAttempt, PushMessage, WorkGroupRobot
from outreach.notify.services import queue_message, retry_delay
from outreach.notify.tasks import deliver_push
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from tests.group_server import RobotServer, refused_url

pytestmark = pytest.mark.django_db

AUG13 = dt.date(2021, 8, 13)
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture(autouse=True)
def push_settings(settings):
    settings.PUSH_ALLOW_LOOPBACK = True
    settings.PUSH_RETRY_SECONDS = 0
    settings.PUSH_MAX_ATTEMPTS = 3
    settings.PUSH_TIMEOUT_SECONDS = 2
    settings.SITE_URL = "https://fanzha.example.gov.cn"
    return settings


def reports_for_all(day=AUG13):
    for i, county in enumerate(County.objects.exclude(population__isnull=True).order_by("code")):
        RegistrationReport.objects.create(
            county=county, as_of=day, registered=county.population * (40 - i) // 100, verified=1000
        )


def robot(url, kind="wecom", county=None, secret="", name=None):
    return WorkGroupRobot.objects.create(
        name=name or f"{kind}群", kind=kind, county=county, webhook_url=url, secret=secret
    )


def issue_from_the_page(client, user, capture):
    """签发 through the page, running what waits for the commit (the push) as a real commit would."""
    client.force_login(user)
    with capture(execute=True):
        response = client.post("/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "registration_rate"})
    assert response.status_code == 302
    return Bulletin.objects.get()


@pytest.mark.parametrize(
    "kind, url, message",
    [
        ("wecom", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "须以 https:// 开头"),
        ("wecom", "https://evil.example.com/cgi-bin/webhook/send?key=k", "不是企业微信群机器人的地址"),
        ("wecom", "https://oapi.dingtalk.com/robot/send?access_token=t", "不是企业微信群机器人的地址"),
        ("dingtalk", "https://oapi.dingtalk.com.evil.cn/robot/send", "不是钉钉自定义机器人的地址"),
        ("wecom", "https://qyapi.weixin.qq.com@10.0.0.1/cgi-bin/webhook/send", "不能含用户名或密码"),
        ("wecom", "https://qyapi.weixin.qq.com:8443/cgi-bin/webhook/send", "不是企业微信群机器人的地址"),
        ("dingtalk", "http://10.0.0.1/robot/send", "须以 https:// 开头"),
        ("dingtalk", "https://169.254.169.254/latest/meta-data", "不是钉钉自定义机器人的地址"),
    ],
)
def test_it_refuses_webhooks_outside_the_robots_hosts(kind, url, message):
    with pytest.raises(ValidationError, match=message):
        webhooks.check_webhook(kind, url)


def test_it_accepts_the_official_hosts_and_loopback_only_when_allowed(settings):
    webhooks.check_webhook("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc")
    webhooks.check_webhook("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=abc")
    webhooks.check_webhook("dingtalk", "http://127.0.0.1:8765/robot/send")
    settings.PUSH_ALLOW_LOOPBACK = False
    with pytest.raises(ValidationError):
        webhooks.check_webhook("dingtalk", "http://127.0.0.1:8765/robot/send")
    settings.PUSH_EXTRA_HOSTS = ["wx.intranet.example.cn"]
    webhooks.check_webhook("wecom", "https://wx.intranet.example.cn/cgi-bin/webhook/send?key=abc")
    bad = WorkGroupRobot(name="群", kind="wecom", webhook_url="https://example.com/x")
    with pytest.raises(ValidationError) as caught:
        bad.full_clean()
    assert "webhook_url" in caught.value.message_dict
    signed = WorkGroupRobot(name="群", kind="wecom", webhook_url="https://qyapi.weixin.qq.com/x?key=k", secret="SECa")
    with pytest.raises(ValidationError, match="企业微信群机器人没有加签"):
        signed.full_clean()


def test_it_pushes_the_issued_bulletin_to_its_groups(
    places, users, client, settings, django_capture_on_commit_callbacks
):
    settings.DASHBOARD_BOTTOM_STREAK = 1  # the first bulletin's last three get a 督办单
    reports_for_all()
    with RobotServer(secret=SECRET) as server:
        wecom = robot(server.url(), "wecom")
        ding = robot(server.url("/robot/send?access_token=tok"), "dingtalk", secret=SECRET)
        robot(server.url(), "wecom", county=places.xinjiang, name="新绛县群")  # a county group: not the city's bulletin
        WorkGroupRobot.objects.filter(pk=robot(server.url(), name="停用的群").pk).update(enabled=False)
        bulletin = issue_from_the_page(client, users.city, django_capture_on_commit_callbacks)
        assert len(server.requests) == 2
    by_path = {r["path"]: r for r in server.requests}
    sent_wecom, sent_ding = by_path["/cgi-bin/webhook/send"], by_path["/robot/send"]
    assert sent_wecom["content_type"].startswith("application/json")
    assert sent_wecom["json"]["msgtype"] == "markdown" and set(sent_wecom["json"]["markdown"]) == {"content"}
    assert sent_ding["json"]["msgtype"] == "markdown" and set(sent_ding["json"]["markdown"]) == {"title", "text"}
    assert sent_ding["query"]["access_token"] == "tok" and sent_ding["sign_ok"] is True
    assert abs(int(sent_ding["query"]["timestamp"]) - timezone.now().timestamp() * 1000) < 60_000
    assert sent_wecom["sign_ok"] is None  # 企业微信 has no signature

    text = sent_wecom["json"]["markdown"]["content"]
    shown = bulletins.present(bulletins.frozen_draft(bulletin), 1)
    orders = list(SupervisionOrder.objects.filter(bulletin=bulletin).values_list("unit_name", flat=True))
    assert len(orders) == 3
    assert f"运城市委政法委{bulletin.label}通报" in text and bulletin.title in text
    assert "**红榜**：" + "；".join(f"第{x['rank']}名 {x['name']} {x['value']}" for x in shown["top"]) in text
    assert "**黑榜**：" + "；".join(f"第{x['rank']}名 {x['name']} {x['value']}" for x in shown["bottom"]) in text
    assert all(f"对{name}发出督办单" in text for name in orders)
    assert f"(https://fanzha.example.gov.cn/dashboard/bulletins/{bulletin.pk}/)" in text
    assert sent_ding["json"]["markdown"]["text"] == text
    assert sent_ding["json"]["markdown"]["title"] == f"运城市委政法委{bulletin.label}通报"

    for message in (PushMessage.objects.get(robot=wecom), PushMessage.objects.get(robot=ding)):
        assert (message.state, message.attempts, message.bulletin_id) == ("sent", 1, bulletin.pk)
        attempt = message.tries.get()
        assert (attempt.ok, attempt.status_code, attempt.errcode, attempt.errmsg) == (True, 200, 0, "ok")
    assert PushMessage.objects.count() == 2


def test_a_wrong_secret_is_a_refusal_the_log_shows(places, users, client, django_capture_on_commit_callbacks):
    reports_for_all()
    with RobotServer(secret=SECRET) as server:
        robot(server.url("/robot/send?access_token=tok"), "dingtalk", secret="SECwrong")
        issue_from_the_page(client, users.city, django_capture_on_commit_callbacks)
    assert [r["sign_ok"] for r in server.requests] == [False, False, False]
    message = PushMessage.objects.get()
    assert (message.state, message.attempts) == ("failed", 3)
    assert list(message.tries.values_list("number", "status_code", "errcode", "ok")) == [
        (n, 200, 310000, False) for n in (1, 2, 3)
    ]
    assert message.tries.first().error == "机器人拒收：errcode 310000"


def test_a_group_that_is_down_never_fails_the_signature(places, users, client, django_capture_on_commit_callbacks):
    reports_for_all()
    with RobotServer() as failing, RobotServer() as recovering:
        failing.answers = ["500"] * 5
        recovering.answers = [93000, "500"]  # refused, then an error page, then it answers
        gone = robot(refused_url(), "dingtalk", name="关掉的群")
        broken = robot(failing.url(), "wecom", name="出错的群")
        back = robot(recovering.url(), "wecom", name="恢复的群")
        bulletin = issue_from_the_page(client, users.city, django_capture_on_commit_callbacks)
        assert len(failing.requests) == 3 and len(recovering.requests) == 3
    assert bulletin.number == 1 and bulletin.lines.count() == 13  # issued whatever the groups did

    def log(r):
        return list(PushAttempt.objects.filter(message__robot=r).values_list("number", "status_code", "errcode", "ok"))

    assert log(gone) == [(1, None, None, False), (2, None, None, False), (3, None, None, False)]
    assert PushAttempt.objects.filter(message__robot=gone).first().error.startswith("连接失败")
    assert log(broken) == [(1, 500, None, False), (2, 500, None, False), (3, 500, None, False)]
    assert PushAttempt.objects.filter(message__robot=broken).first().answer == "internal error"
    assert log(back) == [(1, 200, 93000, False), (2, 500, None, False), (3, 200, 0, True)]
    states = dict(PushMessage.objects.values_list("robot__name", "state"))
    assert states == {"关掉的群": "failed", "出错的群": "failed", "恢复的群": "sent"}


def test_the_attempt_log_is_append_only(places):
    message = queue_message(robot(refused_url()), "test", "测试", "测试")
    deliver_push.call(message.pk)
    attempt = PushAttempt.objects.first()
    attempt.error = "改过"
    with pytest.raises(AppendOnlyError):
        attempt.save()
    with pytest.raises(AppendOnlyError):
        PushAttempt.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_the_database_queue_waits_between_attempts_and_signing_only_queues(places, users, client, settings):
    settings.TASKS = DATABASE_QUEUE
    settings.PUSH_RETRY_SECONDS = 60
    reports_for_all()
    with RobotServer() as server:
        server.answers = ["500", "500"]
        group = robot(server.url(), "wecom")
        client.force_login(users.city)
        response = client.post("/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "registration_rate"})
        assert response.status_code == 302 and Bulletin.objects.count() == 1
        assert server.requests == []  # 签发 only queued the push
        message = PushMessage.objects.get(robot=group)
        assert message.state == "pending"

        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        message.refresh_from_db()
        assert (message.state, message.attempts, len(server.requests)) == ("retrying", 1, 1)
        waiting = DBTaskResult.objects.get(task_path=deliver_push.module_path, status=TaskResultStatus.READY)
        assert abs((waiting.run_after - message.next_attempt_at).total_seconds()) < 5
        assert 55 <= (waiting.run_after - timezone.now()).total_seconds() <= 61

        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        assert len(server.requests) == 1  # not due yet: the worker leaves it

        DBTaskResult.objects.filter(pk=waiting.pk).update(run_after=timezone.now() - dt.timedelta(seconds=1))
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
        message.refresh_from_db()
        assert (message.state, message.attempts, len(server.requests)) == ("retrying", 2, 2)
        second = DBTaskResult.objects.get(task_path=deliver_push.module_path, status=TaskResultStatus.READY)
        assert 115 <= (second.run_after - timezone.now()).total_seconds() <= 121  # twice as long

        DBTaskResult.objects.filter(pk=second.pk).update(run_after=timezone.now() - dt.timedelta(seconds=1))
        call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("sent", 3)
    assert list(message.tries.values_list("status_code", flat=True)) == [500, 500, 200]


def test_the_backoff_doubles_up_to_an_hour(settings):
    settings.PUSH_RETRY_SECONDS = 60
    assert [retry_delay(n) for n in (1, 2, 3, 4, 7, 20)] == [60, 120, 240, 480, 3600, 3600]


def test_a_disabled_or_no_longer_valid_robot_is_not_called(places, settings):
    with RobotServer() as server:
        group = robot(server.url())
        message = queue_message(group, "test", "测试", "测试")
        WorkGroupRobot.objects.filter(pk=group.pk).update(enabled=False)
        deliver_push.call(message.pk)
        other = queue_message(robot(server.url()), "test", "测试", "测试")
        settings.PUSH_ALLOW_LOOPBACK = False  # the address is no longer allowed: refused without a call
        deliver_push.call(other.pk)
    assert server.requests == []
    assert list(PushAttempt.objects.order_by("pk").values_list("ok", "error")) == [
        (False, "机器人已停用"),
        (False, "Webhook 地址须以 https:// 开头，如 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"),
    ]
    assert set(PushMessage.objects.values_list("state", flat=True)) == {"failed"}


def test_long_texts_are_cut_to_what_the_robot_takes():
    body = webhooks.payload("wecom", "标题", "字" * 3000)
    assert len(body["markdown"]["content"].encode()) <= 4096
    assert body["markdown"]["content"].endswith("（内容过长，已截断）")
    assert webhooks.payload("dingtalk", "标题", "短")["markdown"] == {"title": "标题", "text": "短"}


def test_it_signs_a_dingtalk_address_with_timestamp_and_urlencoded_sign():
    url = webhooks.address(
        "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", SECRET, now_ms=1577000000000
    )
    sign = webhooks.dingtalk_sign(SECRET, 1577000000000)
    assert url.startswith("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1577000000000&sign=")
    assert url.endswith(__import__("urllib.parse").parse.quote_plus(sign))
    assert webhooks.address("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t") == (
        "https://oapi.dingtalk.com/robot/send?access_token=t"
    )
    assert (
        webhooks.address("wecom", "https://qyapi.weixin.qq.com/x?key=k", SECRET)
        == "https://qyapi.weixin.qq.com/x?key=k"
    )


# ------------------------------------------------------------------------------------------- push_chase


@pytest.fixture
def chase_world(places):
    from tests.factories import make_campaign, make_household, make_member, make_visit

    campaign = make_campaign()
    at = timezone.make_aware(dt.datetime(2021, 8, 12, 10, 0))
    recent = make_member(places.zhouzhuang, name="甲")
    make_member(places.zhouzhuang, name="乙")  # never visited
    make_member(places.sanquan_village, name="丙")  # never visited
    for _ in range(3):
        make_household(places.zhouzhuang, elderly_alone=True)
    make_household(places.zhouzhuang)  # not vulnerable: listed on the page, not counted
    visited = make_household(places.zhouzhuang, student_family=True)
    make_visit(visited, visitor=recent, campaign=campaign, visited_at=at)
    make_household(places.sanquan_village, no_smartphone=True)
    make_household(places.sanquan_village, left_behind=True)
    return campaign


def page_figures(client, user):
    client.force_login(user)
    households = client.get("/dashboard/chase/households/?date=2021-08-13").context["rows"]
    members = client.get("/dashboard/chase/members/?date=2021-08-13").context["rows"]
    return sum(1 for r in households if r["tags"]), len(members)


def test_push_chase_counts_what_the_chase_pages_list(
    chase_world, places, users, client, django_capture_on_commit_callbacks
):
    longxing, sanquan = page_figures(client, users.town), page_figures(client, users.other_town)
    assert longxing == (3, 1) and sanquan == (2, 1)
    out = __import__("io").StringIO()
    call_command("push_chase", "--date", "2021-08-13", "--json", "--dry-run", stdout=out)
    figures = json.loads(out.getvalue())
    assert figures["days"] == 7
    assert figures["counties"]["新绛县"] == [
        {"name": "龙兴镇", "households": longxing[0], "members": longxing[1]},
        {"name": "三泉镇", "households": sanquan[0], "members": sanquan[1]},
    ]
    assert figures["counties"]["稷山县"] == []
    assert PushMessage.objects.count() == 0  # --dry-run

    with RobotServer(secret=SECRET) as server:
        robot(server.url(), "wecom", county=places.xinjiang, name="新绛县群")
        robot(server.url("/robot/send?access_token=city"), "dingtalk", secret=SECRET, name="市级群")
        robot(server.url(), "wecom", county=places.jishan, name="稷山县群")
        with django_capture_on_commit_callbacks(execute=True):
            call_command("push_chase", "--date", "2021-08-13", stdout=__import__("io").StringIO())
    assert len(server.requests) == 3 and all(r["sign_ok"] in (None, True) for r in server.requests)
    sent = [r["json"]["markdown"].get("content") or r["json"]["markdown"]["text"] for r in server.requests]
    xinjiang_text = next(t for t in sent if t.startswith("#### 新绛县督办提醒"))
    assert (
        "- 龙兴镇：重点人群住户 3 户未走访，党员 1 人未走访\n- 三泉镇：重点人群住户 2 户未走访，党员 1 人未走访"
        in xinjiang_text
    )
    assert "(https://fanzha.example.gov.cn/dashboard/chase/households/)" in xinjiang_text
    city_text = next(r["json"]["markdown"]["text"] for r in server.requests if r["path"] == "/robot/send")
    assert city_text.startswith("#### 运城市督办提醒（2021年8月13日）")
    assert "- 新绛县：重点人群住户 5 户未走访，党员 2 人未走访" in city_text and "稷山县：" not in city_text
    jishan_text = next(t for t in sent if t.startswith("#### 稷山县督办提醒"))
    assert "没有需要督办的单位" in jishan_text
    assert set(PushMessage.objects.values_list("topic", "state")) == {("chase", "sent")}


# ------------------------------------------------------------------------------------------------- admin


def test_county_admins_set_only_their_countys_robots_and_never_see_the_secret(places, users, client):
    own = robot("https://oapi.dingtalk.com/robot/send?access_token=abcdef123456", "dingtalk", places.xinjiang, SECRET)
    city = robot("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=citykey123456", name="市级群")
    other = robot(
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=jishan123456", county=places.jishan, name="稷山"
    )
    client.force_login(users.county)
    listing = client.get("/admin/notify/workgrouprobot/").content.decode()
    assert own.name in listing and "市级群" not in listing and "稷山" not in listing
    assert "access_token=abcd****3456" in listing and "abcdef123456" not in listing
    assert client.get(f"/admin/notify/workgrouprobot/{city.pk}/change/").status_code == 404
    assert client.get(f"/admin/notify/workgrouprobot/{other.pk}/change/").status_code == 404
    form = client.get(f"/admin/notify/workgrouprobot/{own.pk}/change/").content.decode()
    assert SECRET not in form and "abcdef123456" not in form and "SEC0****abcd" in form

    # Saved with the address and secret left empty: both stay as they were.
    data = {"name": "新绛县平安办群", "kind": "dingtalk", "county": places.xinjiang.pk, "webhook_url": "", "secret": ""}
    response = client.post(f"/admin/notify/workgrouprobot/{own.pk}/change/", data | {"enabled": "on"})
    assert response.status_code == 302
    own.refresh_from_db()
    assert (own.name, own.secret, own.webhook_url.endswith("abcdef123456")) == ("新绛县平安办群", SECRET, True)

    add = "/admin/notify/workgrouprobot/add/"
    good = {"name": "新群", "kind": "wecom", "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=n"}
    page = client.post(add, good | {"county": ""}).content.decode()
    assert "超出您的管辖范围" in page  # a city robot is the city admin's
    page = client.post(add, good | {"county": places.xinjiang.pk, "webhook_url": "http://192.168.1.5/hook"}).content
    assert "须以 https:// 开头" in page.decode()
    assert client.post(add, good | {"county": places.jishan.pk}).status_code == 200  # not a choice: refused
    assert client.post(add, good | {"county": places.xinjiang.pk}).status_code == 302
    assert WorkGroupRobot.objects.filter(county=places.xinjiang).count() == 2
    client.force_login(users.town)
    assert client.get("/admin/notify/workgrouprobot/").status_code == 403


def test_the_push_log_is_read_only_and_scoped_in_the_admin(places, users, client):
    mine = queue_message(robot(refused_url(), county=places.xinjiang, name="新绛县群"), "test", "新绛测试", "x")
    theirs = queue_message(robot(refused_url(), county=places.jishan, name="稷山县群"), "test", "稷山测试", "x")
    deliver_push.call(mine.pk)
    client.force_login(users.county)
    listing = client.get("/admin/notify/pushmessage/").content.decode()
    assert "新绛测试" in listing and "稷山测试" not in listing
    assert client.get(f"/admin/notify/pushmessage/{theirs.pk}/change/").status_code == 404
    detail = client.get(f"/admin/notify/pushmessage/{mine.pk}/change/").content.decode()
    assert "连接失败" in detail and 'name="_save"' not in detail
    assert client.get("/admin/notify/pushattempt/add/").status_code == 403


def test_a_failed_message_can_be_resent_as_a_new_one(places, users, client, django_capture_on_commit_callbacks):
    with RobotServer() as server:
        server.answers = ["500"] * 3
        group = robot(server.url(), county=places.xinjiang, name="新绛县群")
        failed = queue_message(group, "test", "新绛测试", "x")
        deliver_push.call(failed.pk)
        client.force_login(users.county)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/admin/notify/pushmessage/", {"action": "resend", "_selected_action": [failed.pk]}, follow=True
            )
        assert "已重新排队 1 条消息" in response.content.decode()
    failed.refresh_from_db()
    assert (failed.state, failed.tries.count()) == ("failed", 3)  # the old one and its log stay as they were
    again = PushMessage.objects.exclude(pk=failed.pk).get()
    assert (again.state, again.attempts, again.text) == ("sent", 1, "x")
