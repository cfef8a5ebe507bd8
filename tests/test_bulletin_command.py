"""``manage.py bulletin``: the page's 拟稿 → 签发 from the command line, through the same functions."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from docx import Document

from outreach.accounts.models import AccessLog
from outreach.dashboards import bulletins
from outreach.dashboards.models import Bulletin, SupervisionOrder
from outreach.notify.models import PushMessage, WorkGroupRobot
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from tests.group_server import RobotServer

pytestmark = pytest.mark.django_db

AUG13 = dt.date(2021, 8, 13)


def reports_for_all(day=AUG13):
    for i, county in enumerate(County.objects.exclude(population__isnull=True).order_by("code")):
        RegistrationReport.objects.create(
            county=county, as_of=day, registered=county.population * (40 - i) // 100, verified=1000
        )


def run(*args) -> str:
    out = io.StringIO()
    call_command("bulletin", *args, stdout=out)
    return out.getvalue()


def test_a_draft_freezes_nothing_and_shows_what_signing_would(places, tmp_path):
    reports_for_all()
    path = tmp_path / "草稿.docx"
    shown = json.loads(run("--date", "2021-08-13", "--metric", "注册率", "--json", "--docx", str(path)))
    assert not Bulletin.objects.exists() and not SupervisionOrder.objects.exists()
    draft = bulletins.draft_bulletin(as_of=AUG13, metric="registration_rate")
    assert (shown["issued"], shown["number"], shown["bulletin_id"], shown["supervision_opened"]) == (
        False,
        None,
        None,
        [],
    )
    assert shown["title"] == draft.title and shown["metric"] == "注册率" and shown["as_of"] == "2021-08-13"
    assert [(r["rank"], r["name"]) for r in shown["rows"]] == [(x["rank"], x["name"]) for x in draft.lines]
    assert shown["rows"][0]["figures"]["registered"] == draft.lines[0]["figures"]["registered"]
    assert shown["rows"][0]["value"].endswith("%") and shown["docx"] == str(path)
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert draft.title in texts and any("草稿" in t for t in texts)
    assert AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT, subject="通报", filename="草稿.docx").exists()
    text = run("--date", "2021-08-13")
    assert "草稿（未编号，没有写入任何通报；加 --issue 签发）" in text and not Bulletin.objects.exists()


def test_issue_takes_a_number_and_opens_the_streak_orders(places, users, settings):
    settings.DASHBOARD_BOTTOM_STREAK = 2
    reports_for_all()
    first = json.loads(run("--date", "2021-08-13", "--issue", "--json", "--user", users.city.username))
    assert (first["issued"], first["number"], first["label"], first["supervision_opened"]) == (
        True,
        1,
        "2021年第1期",
        [],
    )
    bulletin = Bulletin.objects.get(pk=first["bulletin_id"])
    assert bulletin.issued_by == users.city and bulletin.lines.count() == len(first["rows"]) == 13
    due = json.loads(run("--date", "2021-08-13", "--json"))["supervision_due"]
    assert len(due) == 3  # the draft names who signing would put under 督办, and opens nothing
    assert not SupervisionOrder.objects.exists()
    second = json.loads(run("--date", "2021-08-13", "--issue", "--json"))
    assert second["number"] == 2
    opened = SupervisionOrder.objects.filter(bulletin_id=second["bulletin_id"]).order_by("pk")
    assert [o["unit"] for o in second["supervision_opened"]] == [o.unit_name for o in opened] == due
    assert second["supervision_opened"][0]["deadline"] == f"{opened[0].deadline:%Y-%m-%d}"
    assert second["supervision_opened"][0]["reason"].startswith("连续2期排名后三")
    # The third: the same three still at the bottom, but their orders are still open, so none is added.
    assert "督办：无新督办单" in run("--date", "2021-08-13", "--issue")
    assert Bulletin.objects.count() == 3


def test_an_empty_bulletin_exits_1_with_the_reason(places):
    with pytest.raises(CommandError, match="没有一个单位有“注册率”的数字，不能签发空白通报") as caught:
        run("--level", "town", "--parent", "新绛县", "--date", "2021-08-13", "--metric", "注册率", "--issue")
    assert caught.value.returncode == 1
    with pytest.raises(CommandError, match="不能签发空白通报"):
        run("--date", "2021-08-13", "--metric", "registration_rate")  # a draft of nothing is refused too
    assert not Bulletin.objects.exists()


def test_it_refuses_bad_arguments_in_chinese(places, users):
    with pytest.raises(CommandError, match="须用 --parent 指定县"):
        run("--level", "town")
    with pytest.raises(CommandError, match="没有这个县（市、区）：火星县"):
        run("--level", "town", "--parent", "火星县")
    with pytest.raises(CommandError, match="日期格式应为 YYYY-MM-DD"):
        run("--date", "8月13日")
    with pytest.raises(CommandError, match="日期格式应为 YYYY-MM-DD"):
        run("--date", "2021-02-30")
    with pytest.raises(CommandError, match="没有拟稿、签发该通报的权限"):
        run("--level", "town", "--parent", "新绛县", "--user", users.other_county.username)


def test_a_town_bulletin_issued_from_the_command_line_is_pushed(
    places, users, settings, django_capture_on_commit_callbacks
):
    from outreach.dashboards.services import rebuild_summaries
    from tests.factories import make_campaign, make_household

    settings.PUSH_ALLOW_LOOPBACK = True
    make_campaign()
    make_household(places.zhouzhuang)
    rebuild_summaries()
    with RobotServer() as server:
        WorkGroupRobot.objects.create(name="新绛县群", kind="wecom", county=places.xinjiang, webhook_url=server.url())
        with django_capture_on_commit_callbacks(execute=True):
            shown = json.loads(
                run("--level", "town", "--parent", "新绛县", "--date", "2021-08-13", "--issue", "--json")
            )
    assert shown["metric"] == "入户率" and shown["parent"] == "新绛县"  # the level's default with data
    (sent,) = server.requests
    assert "新绛县委政法委2021年第1期通报" in sent["json"]["markdown"]["content"]
    assert PushMessage.objects.get().state == "sent"
