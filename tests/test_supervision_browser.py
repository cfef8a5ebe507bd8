"""督办单 in a real browser on a phone: the town admin sees 我的督办 with its count, signs, replies with a file."""

import datetime as dt

import pytest
from django.utils import timezone

from outreach.dashboards import supervision
from outreach.dashboards.models import SupervisionOrder
from tests.browser import launch_chromium
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page():
    with launch_chromium() as browser:
        yield browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, page.url


def test_it_lets_the_town_admin_sign_and_reply_on_a_phone(live_server, places, users, page, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    order = supervision.open_order(
        code=places.longxing.code, reason="manual", reason_text="入户率连续三期排名后三，请限期整改", user=users.county
    )
    SupervisionOrder.objects.filter(pk=order.pk).update(deadline=timezone.localdate() - dt.timedelta(days=1))
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/")
    page.fill("#id_username", users.town.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    assert page.locator(".nav-supervision .badge").inner_text() == "1"
    page.click(".nav-supervision")
    page.wait_for_url("**/supervision/mine/")
    _no_sideways_scroll(page)
    assert "逾期" in page.locator("#supervision-orders tbody tr").first.inner_text()
    page.click("#supervision-orders tbody >> text=龙兴镇")
    page.wait_for_url(f"**/supervision/{order.pk}/")
    _no_sideways_scroll(page)
    assert page.locator(".order-state .overdue").inner_text() == "逾期"

    page.click("#sign-form button")
    page.wait_for_url(f"**/supervision/{order.pk}/")
    assert page.locator(".messages li").inner_text() == "已签收"
    assert "已过整改期限" in page.locator("#reply-form").inner_text()
    _no_sideways_scroll(page)

    page.fill("#reply-text", "一、逐村排查未走访户；\n二、三日内补访完毕。")
    page.set_input_files(
        "#reply-file", files=[{"name": "整改方案.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 test"}]
    )
    page.click("#reply-form button")
    page.wait_for_url(f"**/supervision/{order.pk}/")
    assert page.locator(".messages li").inner_text() == "已回复整改措施（已过整改期限，记为逾期回复）"
    reply = page.locator(".order-steps .step-replied")
    assert "逾期回复" in reply.inner_text() and "三日内补访完毕" in reply.inner_text()
    assert reply.locator(".step-file a").inner_text() == "整改方案.pdf"
    assert page.locator("#reply-form").count() == 0
    assert page.locator(".nav-supervision .badge").count() == 0  # nothing waits for the town any more
    _no_sideways_scroll(page)
    with page.expect_download() as download:
        reply.locator(".step-file a").click()
    assert download.value.suggested_filename == "整改方案.pdf"
    order.refresh_from_db()
    assert order.state == SupervisionOrder.State.REPLIED
    assert not [text for text in console if "Content Security Policy" in text], console
