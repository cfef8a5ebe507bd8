"""通报 vs 走访: the official 安装注册人数 beside the registrations recorded in visits, per county and town and
date, flagged where the field claims more than the official figure or the gap jumps between two reports."""

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from outreach.accounts.models import AccessLog
from outreach.dashboards.queries import ranking, reconciliation
from outreach.dashboards.services import rebuild_summaries
from outreach.lib import metrics as m
from outreach.registrations.models import RegistrationReport
from tests.factories import make_campaign, make_household, make_visit
from tests.test_dashboards import at

pytestmark = pytest.mark.django_db

AUG11, AUG13 = dt.date(2021, 8, 11), dt.date(2021, 8, 13)


def test_it_flags_field_over_official_and_gap_jumps_from_integers():
    assert m.reconcile(None, 5) == []  # no 通报: nothing to judge
    assert m.reconcile(100, 100) == []
    assert m.reconcile(100, 101) == ["field_over"]
    # The gap moved from 1,000 − 0 to 1,100 − 0: exactly 10% of the previous 1,000 is no jump, more is.
    assert m.reconcile(1100, 0, 1000, 0, jump_percent=10) == []
    assert m.reconcile(1101, 0, 1000, 0, jump_percent=10) == ["gap_jump"]
    # Visits catching up faster than the bulletin also moves the gap (here by 200 of 1,000).
    assert m.reconcile(1000, 300, 1000, 100, jump_percent=10) == ["gap_jump"]
    assert m.reconcile(50, 80, 60, 10, jump_percent=10) == ["field_over", "gap_jump"]
    assert m.reconcile(100, 0, 0, 0) == []  # no previous official figure: no jump


@pytest.fixture
def world(places):
    """新绛县: a bulletin figure lower than the visits claim on 8月13日; 稷山县: a gap that jumps; 龙兴镇 and
    三泉镇 with town figures."""
    make_campaign()
    xinjiang_home = make_household(places.zhouzhuang)
    make_visit(xinjiang_home, visited_at=at(10), app_installed=8, app_registered=8)
    make_visit(make_household(places.sanquan_village), visited_at=at(12), app_installed=4, app_registered=4)
    make_visit(make_household(places.jishan_village), visited_at=at(12), app_installed=3, app_registered=3)
    for county, day, registered in (
        (places.xinjiang, AUG11, 20),
        (places.xinjiang, AUG13, 11),  # 12 registered in visits by 8月13日, 11 in the bulletin
        (places.jishan, AUG11, 1000),
        (places.jishan, AUG13, 1500),  # the gap moves by 497 of 1,000
    ):
        RegistrationReport.objects.create(county=county, as_of=day, registered=registered, verified=0)
    for town, day, registered in (
        (places.longxing, AUG11, 100),
        (places.longxing, AUG13, 101),
        (places.sanquan, AUG11, 2),
        (places.sanquan, AUG13, 3),  # 4 in visits
    ):
        RegistrationReport.objects.create(
            county=places.xinjiang, town=town, as_of=day, registered=registered, verified=0
        )
    rebuild_summaries()


def row(result, name):
    return next(r for r in result.rows if r["name"] == name)


def test_it_reconciles_counties_and_towns(world, places):
    result = reconciliation(None, AUG13)
    assert result.previous_as_of == AUG11
    xinjiang = row(result, "新绛县")
    assert (xinjiang["registered"], xinjiang["app_registered"], xinjiang["gap"]) == (11, 12, -1)
    assert (xinjiang["previous_registered"], xinjiang["previous_app_registered"], xinjiang["previous_gap"]) == (
        20,
        8,
        12,
    )
    assert xinjiang["gap_change"] == -13
    assert xinjiang["reconcile"] == ["field_over", "gap_jump"]
    assert row(result, "稷山县")["reconcile"] == ["gap_jump"]
    unreported = [r for r in result.rows if r["pk"] not in (places.xinjiang.pk, places.jishan.pk)]
    assert unreported and all(r["reconcile"] == [] and r["registered"] is None for r in unreported)
    assert [r["name"] for r in result.flagged] == ["稷山县", "新绛县"]  # flagged first, by code
    towns = reconciliation(places.xinjiang, AUG13)
    # 3 − 4 against 2 − 0 on 8月11日: more than 10% of 2 too.
    assert row(towns, "三泉镇")["reconcile"] == ["field_over", "gap_jump"]
    assert row(towns, "龙兴镇")["reconcile"] == []


def test_it_flags_the_same_units_on_the_ranking(world, places):
    """The ranking's badge and the reconciliation page read one rule on the same rows."""
    for parent, level in ((None, "county"), (places.xinjiang, "town")):
        page = {r["pk"]: r["reconcile"] for r in reconciliation(parent, AUG13).rows}
        ranked = {r["pk"]: r["reconcile"] for r in ranking(level, parent, as_of=AUG13).rows}
        assert page == ranked


def test_it_shows_the_page_and_lists_flagged_units_on_the_ranking(world, places, users, client):
    client.force_login(users.county)
    page = client.get("/dashboard/reconcile/?date=2021-08-13").content.decode()
    assert "需要核对的单位（2个）" in page and "走访注册多于通报" in page and "差额突变" in page
    assert f"/dashboard/reconcile/{places.xinjiang.pk}/" in page  # the county's own towns are a click away
    assert f"/dashboard/reconcile/{places.jishan.pk}/" not in page  # another county's are not
    ranking_page = client.get("/dashboard/rank/county/?date=2021-08-13").content.decode()
    assert "通报与走访注册对账：" in ranking_page and '<span class="flag-badge warn"' in ranking_page
    towns = client.get(f"/dashboard/rank/town/{places.xinjiang.pk}/?date=2021-08-13").content.decode()
    assert "<strong>三泉镇</strong>（走访注册多于通报、差额突变）" in towns


def test_it_scopes_the_town_page_like_the_rankings(world, places, users, client):
    client.force_login(users.county)
    assert client.get(f"/dashboard/reconcile/{places.xinjiang.pk}/?date=2021-08-13").status_code == 200
    assert client.get(f"/dashboard/reconcile/{places.jishan.pk}/").status_code == 404
    client.force_login(users.town)  # 龙兴镇 staff open their county's town ranking, and so this page, no other
    assert client.get(f"/dashboard/reconcile/{places.xinjiang.pk}/").status_code == 200
    assert client.get(f"/dashboard/reconcile/{places.jishan.pk}/").status_code == 404
    client.force_login(users.city)
    assert client.get(f"/dashboard/reconcile/{places.jishan.pk}/").status_code == 200


def test_it_exports_the_page_as_typed_xlsx(world, places, users, client):
    client.force_login(users.county)
    response = client.get(f"/dashboard/reconcile/{places.xinjiang.pk}/?date=2021-08-13&export=xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "新绛县各乡镇（街道）通报与走访注册对账"
    header = rows[2]
    assert header[:4] == ("单位", "通报对账", "通报日期", "通报安装注册人数")
    sanquan = next(r for r in rows[3:] if r[0] == "三泉镇")
    values = dict(zip(header, sanquan, strict=True))
    assert values["通报对账"] == "走访注册多于通报、差额突变"
    assert values["通报安装注册人数"] == 3 and values["走访注册人数"] == 4 and values["通报注册−走访注册"] == -1
    assert values["差额较上期"] == -3
    assert values["通报日期"].date() == AUG13
    missing = next(r for r in rows[3:] if r[0] not in ("三泉镇", "龙兴镇"))
    assert dict(zip(header, missing, strict=True))["通报安装注册人数"] == m.DASH
    log = AccessLog.objects.get(kind=AccessLog.Kind.EXPORT, subject="通报与走访对账")
    assert log.user == users.county
