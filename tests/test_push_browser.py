"""The clerk's morning in chromium: set the county's robot in the admin, 拟稿 → 签发, and the group gets it."""

import pytest

from outreach.dashboards.models import Bulletin
from outreach.dashboards.services import rebuild_summaries
from outreach.notify.models import PushMessage, WorkGroupRobot
from tests.browser import launch_chromium
from tests.factories import PASSWORD, make_campaign, make_household
from tests.group_server import RobotServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "SECbrowser0123456789abcdef0123456789abcdef0123456789abcdef01234"


def test_a_county_clerk_sets_a_robot_issues_and_the_group_receives(live_server, places, users, settings):
    settings.PUSH_ALLOW_LOOPBACK = True
    settings.SITE_URL = live_server.url
    make_campaign()
    make_household(places.zhouzhuang)
    rebuild_summaries()
    with RobotServer(secret=SECRET) as server, launch_chromium() as browser:
        page = browser.new_page(locale="zh-CN")
        console = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{live_server.url}/accounts/login/?next=/admin/notify/workgrouprobot/add/")
        page.fill("#id_username", users.county.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/notify/workgrouprobot/add/")
        page.fill("#id_name", "新绛县平安办工作群")
        page.select_option("#id_kind", "dingtalk")
        assert page.locator("#id_county").input_value() == str(places.xinjiang.pk)  # the clerk's county, preset
        page.fill("#id_webhook_url", server.url("/robot/send?access_token=browser-token-123456"))
        page.fill("#id_secret", SECRET)
        page.click("input[name=_save]")
        page.wait_for_url("**/admin/notify/workgrouprobot/")
        assert "access_token=brow****3456" in page.content() and SECRET not in page.content()
        assert WorkGroupRobot.objects.get().secret == SECRET

        page.goto(f"{live_server.url}/dashboard/bulletins/draft/?county={places.xinjiang.pk}&date=2021-08-13")
        page.click("button:text-is('签发')")
        page.wait_for_url("**/dashboard/bulletins/*/")
        assert "已签发2021年第1期通报" in page.content()
        assert not [text for text in console if "Content Security Policy" in text], console
    bulletin = Bulletin.objects.get()
    (sent,) = server.requests
    assert sent["sign_ok"] is True
    assert sent["json"]["markdown"]["title"] == "新绛县委政法委2021年第1期通报"
    assert f"({live_server.url}/dashboard/bulletins/{bulletin.pk}/)" in sent["json"]["markdown"]["text"]
    assert PushMessage.objects.get().state == "sent"
