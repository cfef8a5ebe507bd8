"""The phone pages in Debian's chromium at a phone's size: record a visit with a drawn signature, record one
offline and see it sent once when the connection returns, and no way into another grid's household."""

import datetime as dt
import json

import pytest
from django.db import connections
from django.utils import timezone

from outreach.people.models import Resident
from outreach.visits.models import COMMON_FRAUD_TYPES, FraudType, Visit
from tests.browser import end_other_sessions, launch_chromium
from tests.factories import PASSWORD, make_campaign, make_household, make_visit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Signatures and photos the tests store go to a temporary folder, not the checkout's media/.
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as browser:
        yield browser
        # Work done while Playwright runs has its own connection: close it so the test database can be dropped.
        connections.close_all()


@pytest.fixture(autouse=True)
def _fresh_connections():
    # Another browser test may have ended this process's idle PostgreSQL sessions (pg_terminate_backend):
    # start each test on a new connection rather than a dead one.
    connections.close_all()


@pytest.fixture
def phone(browser, live_server, transactional_db):
    # Set up after the database and so closed before its flush: a page still sending (the outbox, the
    # service worker) must not hold the SQLite test database while the next test's flush runs.
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        permissions=["geolocation"],
        geolocation={"latitude": 35.6151, "longitude": 111.2203},
        base_url=live_server.url,
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()
    end_other_sessions(terminate=False)  # the next test's requests use the live server's sessions


@pytest.fixture
def world(transactional_db, places, users):
    # A transactional test before this one may have flushed the fraud types the data migration seeded.
    for order, name in enumerate(COMMON_FRAUD_TYPES):
        FraudType.objects.get_or_create(name=name, defaults={"sort_order": order})
    today = timezone.localdate()
    campaign = make_campaign(start_date=today - dt.timedelta(days=10), end_date=today + dt.timedelta(days=10))
    mine = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="张三")
    Resident.objects.create(household=mine, name="张三", is_head=True)
    other = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid2, head_name="王五")
    return type("World", (), {"campaign": campaign, "mine": mine, "other": other, "users": users})


def log_in(page, user):
    page.goto("/m/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/m/")


def draw_signature(page):
    page.locator("#signature").scroll_into_view_if_needed()
    box = page.locator("#signature").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 60)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 30 + step * 20, box["y"] + 60 + (step % 3) * 25)
    page.mouse.up()


def test_it_records_a_visit_with_a_drawn_signature(phone, world):
    page = phone.new_page()
    log_in(page, world.users.grid)
    card = page.locator(f'a[data-household="{world.mine.pk}"]')
    assert "未走访" in card.inner_text()
    assert page.locator(f'a[data-household="{world.other.pk}"]').count() == 0
    card.click()
    page.click("text=记录走访")
    page.wait_for_url(f"**/m/h/{world.mine.pk}/visit/")
    for name in ("entered", "met_person", "explained", "signed", "left_pledge"):
        page.check(f'input[name="{name}"]')
    page.check("text=冒充公检法")
    page.locator(".resident").first.locator('input[name="app_registered"]').check()
    page.click("#save-visit")
    assert "请住户在签名框内签名" in page.locator("#form-errors").inner_text()
    draw_signature(page)
    page.click("#save-visit")
    page.wait_for_url(f"**/m/h/{world.mine.pk}/")
    assert "已走访" in page.locator("#household-states").inner_text()
    visit = Visit.objects.get(household=world.mine)
    assert visit.signed and visit.signature.name and len(visit.signature_sha256) == 64
    assert visit.is_qualified and visit.app_registered == 1
    assert Resident.objects.get(household=world.mine).app_registered


def test_it_keeps_a_visit_made_offline_and_sends_it_once(phone, world):
    page = phone.new_page()
    log_in(page, world.users.grid)
    page.goto(f"/m/h/{world.mine.pk}/visit/")
    # Once the service worker controls the page, a reload without signal comes from its cache.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    page.wait_for_function("() => caches.open('fanzha-pages').then(c => c.match(location.href)).then(r => !!r)")
    phone.set_offline(True)
    page.reload()
    assert page.locator("#visit-form").count() == 1
    page.goto(f"/m/h/{world.mine.pk}/?never-opened=1")
    assert "没有网络" in page.title()
    page.goto(f"/m/h/{world.mine.pk}/visit/")
    page.check('input[name="met_person"]')
    page.click("#save-visit")
    page.locator("#form-status").wait_for()
    assert "已保存在手机上" in page.locator("#form-status").inner_text()
    assert page.locator("#outbox").inner_text().replace(" ", "") == "待上传1条"
    page.evaluate("document.getElementById('visit-form').requestSubmit()")  # a second tap: nothing more
    assert Visit.objects.count() == 0

    phone.set_offline(False)
    page.locator("#outbox").wait_for(state="hidden")
    assert Visit.objects.filter(household=world.mine).count() == 1

    # A second offline visit, the page closed before the signal returns: sent when a page opens again.
    page.goto(f"/m/h/{world.mine.pk}/visit/")
    phone.set_offline(True)
    page.check('input[name="entered"]')
    page.click("#save-visit")
    page.locator("#form-status").wait_for()
    page.close()
    phone.set_offline(False)
    again = phone.new_page()
    again.goto("/m/")
    again.locator("#outbox").wait_for(state="hidden")
    again.wait_for_function("() => window.fanzhaOutbox.all().then(items => items.length === 0)")
    assert Visit.objects.filter(household=world.mine).count() == 2


def test_it_does_not_reach_another_grids_household(phone, world):
    page = phone.new_page()
    log_in(page, world.users.grid)
    assert page.goto(f"/m/h/{world.other.pk}/").status == 404
    assert page.goto(f"/m/h/{world.other.pk}/visit/").status == 404


def test_it_sends_a_visit_again_under_a_fresh_id_when_its_id_is_taken(phone, world):
    page = phone.new_page()
    log_in(page, world.users.grid)
    taken = make_visit(world.other, campaign=world.campaign, recorded_by=world.users.other_grid)
    answers = []
    page.on("response", lambda r: answers.append(r.status) if "/m/api/visits/" in r.url else None)

    def reuse_a_taken_id(route):
        # The first send carries a client id another visit already holds (a phone restored from a backup).
        body = route.request.post_data_json
        if not answers:
            body["client_id"] = str(taken.client_id)
        route.continue_(post_data=json.dumps(body))

    page.route("**/m/api/visits/", reuse_a_taken_id)
    page.goto(f"/m/h/{world.mine.pk}/visit/")
    page.check('input[name="met_person"]')
    page.click("#save-visit")
    page.wait_for_url(f"**/m/h/{world.mine.pk}/")
    assert answers[:2] == [409, 201]
    mine = Visit.objects.get(household=world.mine)
    assert mine.client_id != taken.client_id
    assert Visit.objects.get(pk=taken.pk).household == world.other
    page.wait_for_function("() => window.fanzhaOutbox.all().then(items => items.length === 0)")
