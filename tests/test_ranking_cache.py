"""Rankings a process keeps (dashboards/ranking_cache.py): never after a write to what they are computed from,
never past their time, never with another viewer's links; and every table a ranking reads moves the number."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outreach.dashboards import queries, ranking_cache
from outreach.dashboards.services import rebuild_summaries, refresh_pending
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from tests.factories import make_assignment, make_campaign, make_household, make_member
from tests.test_dashboards import AUG13, good_visit, report

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="rankings are kept on PostgreSQL only")

URL = "/dashboard/rank/county/?date=2021-08-13&metric=registration_rate"


@pytest.fixture
def keeping(settings):
    settings.DASHBOARD_REFRESH_GRACE_SECONDS = 30
    settings.DASHBOARD_RANKING_CACHE_SECONDS = 30
    ranking_cache.clear()
    yield
    ranking_cache.clear()


@pytest.fixture
def world(places):
    campaign = make_campaign()
    report(places.xinjiang, AUG13, 62113, 49213)
    member = make_member(places.zhouzhuang)
    household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    make_assignment(household, member, campaign)
    good_visit(household, member, 3)
    rebuild_summaries()
    return {"campaign": campaign, "member": member, "household": household}


def page(client, url=URL):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(captured.captured_queries)


def cell(html: str, name: str) -> str:
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{name}(?:(?!</tr>).)*</tr>", html, re.S)
    assert row, name
    return row.group(0)


def test_a_second_request_reads_the_kept_ranking_with_fewer_queries(keeping, world, users, client):
    client.force_login(users.city)
    first, cold = page(client)
    again, warm = page(client)
    assert warm <= cold - 5  # the report dates, the reports, two summary sums, the counties, the corrections
    assert cell(first, "新绛县") == cell(again, "新绛县")


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda p: report(p.jishan, AUG13, 70000, 50000), id="a new 通报 report"),
        pytest.param(
            lambda p: County.objects.filter(pk=p.xinjiang.pk).update(name="新绛县（改）"), id="a county renamed"
        ),
        pytest.param(lambda p: rebuild_summaries(), id="the summaries rebuilt"),
    ],
)
def test_any_write_to_a_source_drops_the_kept_ranking(keeping, world, users, client, places, write):
    client.force_login(users.city)
    _, cold = page(client)
    assert page(client)[1] < cold
    write(places)
    assert page(client)[1] >= cold  # computed again, not read from the kept one
    assert page(client)[1] < cold  # and kept again from then on


def test_a_new_report_shows_at_once(keeping, world, users, client, places):
    client.force_login(users.city)
    before, _ = page(client)
    assert "62,113" in cell(before, "新绛县") or "62113" in cell(before, "新绛县")
    RegistrationReport.objects.filter(county=places.xinjiang, as_of=AUG13).update(registered=70001)
    after, _ = page(client)
    assert "70,001" in cell(after, "新绛县") or "70001" in cell(after, "新绛县")


def test_a_visit_shows_once_its_village_is_refreshed(keeping, world, users, client, places):
    client.force_login(users.city)
    url = "/dashboard/rank/county/?date=2021-08-13&metric=visit_rate"
    before, _ = page(client, url)
    household = make_household(places.zhouzhuang)
    good_visit(household, world["member"], 4)
    marked, _ = page(client, url)  # marked, within the grace: the rows as they are (as without keeping)
    assert cell(marked, "新绛县") == cell(before, "新绛县")
    refresh_pending()  # what the db_worker's job does
    after, _ = page(client, url)
    assert cell(after, "新绛县") != cell(before, "新绛县")


def test_a_kept_ranking_is_dropped_after_its_time(keeping, world, users, client, monkeypatch):
    client.force_login(users.city)
    _, cold = page(client)
    assert page(client)[1] < cold
    later = ranking_cache.monotonic() + 31
    monkeypatch.setattr(ranking_cache, "monotonic", lambda: later)  # this module's clock only
    assert page(client)[1] == cold


def test_each_viewer_gets_their_own_links_from_a_kept_ranking(keeping, world, users, client, places):
    client.force_login(users.city)
    city_page, _ = page(client)
    client.force_login(users.county)
    county_page, warm = page(client)
    assert "/dashboard/rank/town/" in cell(city_page, "稷山县")  # the city reaches every county
    assert "/dashboard/rank/town/" not in cell(county_page, "稷山县")  # 新绛县's admin only their own
    assert "/dashboard/rank/town/" in cell(county_page, "新绛县")
    client.force_login(users.city)
    assert page(client)[0].count("/dashboard/rank/town/") == city_page.count("/dashboard/rank/town/")


def test_nothing_is_kept_when_the_grace_is_zero(settings, world, users, client):
    settings.DASHBOARD_RANKING_CACHE_SECONDS = 0
    ranking_cache.clear()
    client.force_login(users.city)
    _, cold = page(client)
    assert page(client)[1] == cold


def _tables(sql: str) -> set[str]:
    return set(re.findall(r'(?:FROM|JOIN)\s+"([a-z0-9_]+)"', sql))


def test_every_table_a_kept_ranking_reads_moves_the_number(world, places):
    """A new table read by a ranking without the trigger would keep figures after it changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE %s",
            ["%_figures_write"],
        )
        triggered = {r[0] for r in cursor.fetchall()}
    read = set()
    for level, parent in (
        ("county", None),
        ("town", places.xinjiang),
        ("zone", places.xinjiang),
        ("organization", places.xinjiang),
        ("organization", places.longxing),
        ("village", places.longxing),
    ):
        with CaptureQueriesContext(connection) as captured:
            queries.report_dates()
            queries.ranking(level, parent, dt.date(2021, 8, 13), campaign=None)
        for q in captured.captured_queries:
            read |= _tables(q["sql"])
    assert "people_rostercorrection" in read and "dashboards_villagedaysummary" in read
    assert read <= triggered, read - triggered
    # A statement that changes no row moves it too (statement-level): the writer needs no row to count.
    with connection.cursor() as cursor:
        for table in sorted(triggered):
            cursor.execute("SELECT last_value FROM dashboards_figures_version")
            before = cursor.fetchone()[0]
            cursor.execute(f'UPDATE "{table}" SET id = id WHERE false')
            cursor.execute("SELECT last_value FROM dashboards_figures_version")
            assert cursor.fetchone()[0] > before, table


def test_nothing_is_kept_beside_a_read_replica(keeping, world, users, client, monkeypatch):
    # The number is the primary's; the figures would be the replica's, which may lag behind it.
    monkeypatch.setattr(ranking_cache, "replica_configured", lambda: True)
    client.force_login(users.city)
    _, cold = page(client)
    assert page(client)[1] == cold
