"""A grid worker in a real browser: logs in, sees only their households, and gets the 404 page for another
grid's household. No page breaks the Content-Security-Policy on the way."""

import pytest
from django.db import connections

from tests.browser import launch_chromium
from tests.factories import PASSWORD, make_household

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    with launch_chromium() as browser:
        yield browser
        # Database work done while Playwright runs gets its own connection: close it, or PostgreSQL
        # refuses to drop the test database at the end of the run.
        connections.close_all()


@pytest.fixture
def households(places):
    return (
        make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="我的网格户"),
        make_household(places.zhouzhuang, grid=places.zhouzhuang_grid2, head_name="别人网格户"),
    )


def test_it_shows_a_grid_worker_only_their_households(live_server, users, households, browser):
    mine, theirs = households
    page = browser.new_page()
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", users.grid.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/people/household/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert mine.head_name in rows.first.inner_text()
    assert theirs.head_name not in page.content()

    response = page.goto(f"{live_server.url}/admin/people/household/{theirs.pk}/change/")
    assert response.status == 404
    assert "没有找到" in page.locator("h1").inner_text()
    assert theirs.head_name not in page.content()

    page.goto(f"{live_server.url}/admin/people/household/{mine.pk}/change/")
    assert page.locator("#id_head_name").input_value() == mine.head_name
    assert violations == []


def test_it_reveals_a_number_and_exports_without_inline_code(live_server, users, households, browser):
    mine, _ = households
    page = browser.new_page()
    violations = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", users.county.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/people/household/{mine.pk}/change/")
    assert mine.phone not in page.content()
    page.click("text=查看完整号码")
    page.click("input[type=submit][value=查看完整号码]")
    assert page.locator(".reveal-number").inner_text() == mine.phone

    page.goto(f"{live_server.url}/admin/accounts/user/export/")
    boxes = page.locator('.selectable-field-export-row input[type="checkbox"]')
    assert boxes.count() > 0 and all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.click(".select-toggle")
    assert not any(boxes.nth(i).is_checked() for i in range(boxes.count()))
    assert violations == []
