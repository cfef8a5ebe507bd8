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


def _log_in(page, live_server, user, width=390):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")


def test_it_links_only_what_the_viewer_may_open_down_to_a_grids_unvisited_households(
    live_server, places, users, page, tmp_path
):
    from tests.factories import make_household, make_running_campaign

    make_running_campaign()
    make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="未访户")
    # A party member may open no place: the county ranking names every county, links none.
    _log_in(page, live_server, users.member)
    assert page.locator("#ranking tbody tr").count() == 13
    assert page.locator("#ranking tbody a").count() == 0
    page.context.clear_cookies()

    # A grid worker: their county, town, village and grid are links; the neighbours are plain text.
    _log_in(page, live_server, users.grid)
    assert page.locator("#ranking tbody a").all_inner_texts() == ["新绛县"]
    page.click("#ranking tbody >> text=新绛县")
    assert page.locator("#ranking tbody a").all_inner_texts() == ["龙兴镇"]
    assert page.locator("#ranking tbody tr", has_text="三泉镇").locator("a").count() == 0
    page.click("#ranking tbody >> text=龙兴镇")
    assert page.locator("#ranking tbody a").all_inner_texts() == ["周庄村"]
    page.click("#ranking tbody >> text=周庄村")
    assert "周庄村" in page.locator("h1").inner_text()
    page.click(f"#ranking tbody >> text={places.zhouzhuang_grid.name}")
    page.wait_for_url(f"**/dashboard/chase/households/?**grid={places.zhouzhuang_grid.pk}**")
    assert "未访户" in page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "grid-chase-390.png"))
    assert "Page not found" not in page.content()


def test_the_phone_header_and_the_rankings_key_columns_fit_a_390_px_screen(live_server, places, users, page):
    RegistrationReport.objects.create(county=places.xinjiang, as_of=dt.date(2021, 8, 13), registered=62113, verified=1)
    _log_in(page, live_server, users.town)
    page.goto(f"{live_server.url}/dashboard/?date=2021-08-13")
    name = page.locator(".app-name").bounding_box()
    assert name["height"] < 30  # "反诈包联" on one line
    for link in page.locator(".app-nav a").all():
        assert link.bounding_box()["height"] < 30, link.inner_text()  # each menu item on one line
    assert page.locator(".app-header").bounding_box()["height"] < 100
    # Nothing pushes the page sideways: wide tables scroll inside their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    headers = page.locator("#ranking thead th")
    texts = [t.strip() for t in headers.all_inner_texts()]
    wanted = ["名次", "单位", "注册率", "较上期"]
    for label in wanted:
        index = next(i for i, t in enumerate(texts) if t.startswith(label))
        box = headers.nth(index).bounding_box()
        assert box["x"] + box["width"] <= 390, (label, box)


def test_it_goes_from_the_ranking_to_the_reconciliation_and_down_to_towns(live_server, places, users, page, tmp_path):
    from outreach.dashboards.services import rebuild_summaries
    from tests.factories import make_campaign, make_household, make_visit

    make_campaign()
    make_visit(
        make_household(places.zhouzhuang),
        visited_at=dt.datetime(2021, 8, 12, 10, tzinfo=dt.UTC),
        app_installed=30,
        app_registered=30,
    )
    RegistrationReport.objects.create(county=places.xinjiang, as_of=dt.date(2021, 8, 13), registered=20, verified=10)
    RegistrationReport.objects.create(
        county=places.xinjiang, town=places.longxing, as_of=dt.date(2021, 8, 13), registered=25, verified=10
    )
    rebuild_summaries()
    _log_in(page, live_server, users.county, width=1280)
    page.goto(f"{live_server.url}/dashboard/rank/county/?date=2021-08-13")
    assert "新绛县（走访注册多于通报）" in page.locator(".flagged-units").inner_text()
    assert page.locator("#ranking tbody tr", has_text="新绛县").locator(".flag-badge.warn").count() == 1
    page.click(".flagged-units >> text=查看对账")
    page.wait_for_url("**/dashboard/reconcile/?date=2021-08-13")
    assert page.locator("#reconciliation tbody tr").first.locator("td").first.inner_text() == "新绛县"
    page.screenshot(path=str(tmp_path / "reconcile.png"), full_page=True)
    page.click("#reconciliation tbody >> text=新绛县")
    page.wait_for_url(f"**/dashboard/reconcile/{places.xinjiang.pk}/**")
    assert "新绛县各乡镇（街道）通报与走访注册对账" in page.locator("h1").inner_text()
    row = page.locator("#reconciliation tbody tr", has_text="龙兴镇")
    assert "走访注册多于通报" in row.inner_text()
