"""The ranking in a real browser: open it, sort by a column, drill down a level."""

import datetime as dt

import pytest

from outreach.registrations.models import RegistrationReport
from tests.browser import launch_chromium
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page():
    with launch_chromium() as browser:
        yield browser.new_page(locale="zh-CN")


def test_it_opens_sorts_and_drills_down_the_county_ranking(live_server, places, users, page):
    day = dt.date(2021, 8, 13)
    RegistrationReport.objects.create(county=places.xinjiang, as_of=day, registered=62113, verified=49213)
    RegistrationReport.objects.create(county=places.jishan, as_of=day, registered=80000, verified=60000)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/")
    page.fill("#id_username", users.county.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    first_name = page.locator("#ranking tbody tr").first.locator("td").nth(2)
    assert first_name.inner_text() == "稷山县"  # 25.31% ahead of 新绛县's 22.01%
    assert page.locator("#ranking tbody tr", has_text="新绛县").locator("text=22.01%").count() == 1

    page.click("#ranking thead th >> text=实名用户数")  # ascending: counties without a report last
    page.wait_for_url("**sort=verified**")
    assert page.locator("#ranking tbody tr").first.locator("td").nth(2).inner_text() == "新绛县"

    page.click("#ranking tbody >> text=新绛县")
    page.wait_for_url(f"**/dashboard/rank/town/{places.xinjiang.pk}/**")
    assert "新绛县 乡镇（街道）排名" in page.locator("h1").inner_text()
    assert page.locator("#ranking tbody tr", has_text="龙兴镇").count() == 1

    page.goto(f"{live_server.url}/dashboard/trends/?date=2021-08-13")
    assert page.locator("svg.chart").count() == 2
    assert not [text for text in console if "Content Security Policy" in text], console
