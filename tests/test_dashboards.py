"""Rankings, summaries and 通报: figures on small worked examples, computed by hand in the comments."""

import datetime as dt
import io
import json
from fractions import Fraction

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from outreach.accounts.models import AccessLog
from outreach.dashboards.bulletins import issue_bulletin
from outreach.dashboards.models import Bulletin, BulletinLine, PendingVillage, VillageDaySummary
from outreach.dashboards.queries import (
    households_never_visited,
    members_without_visit,
    progress_trend,
    ranking,
    villages_below_target,
)
from outreach.dashboards.services import rebuild_summaries, refresh_pending, vacuum_summaries
from outreach.dashboards.tasks import refresh_summaries
from outreach.lib import metrics as m
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import FraudType, Visit
from tests.factories import make_assignment, make_campaign, make_household, make_member, make_org, make_visit

pytestmark = pytest.mark.django_db

AUG13 = dt.date(2021, 8, 13)
WRITES = {"INSERT", "UPDATE", "DELETE", "REPLACE", "COPY"}


def at(day: int, hour: int = 10):
    return timezone.make_aware(dt.datetime(2021, 8, day, hour, 0))


def report(county, day, registered, verified=None, population=None):
    return RegistrationReport.objects.create(
        county=county,
        as_of=day,
        registered=registered,
        verified=registered // 2 if verified is None else verified,
        population=population,
    )


def good_visit(household, visitor, day, **fields):
    """A visit that qualifies under the default rule: met, one script explained, pledge signed."""
    values = {"met_person": True, "explained": True, "signed": True, "entered": True}
    values.update(fields)
    return make_visit(
        household,
        visitor=visitor,
        visited_at=at(day),
        fraud_types=[FraudType.objects.first()] if values["explained"] else [],
        **values,
    )


def row_of(result, name):
    return next(r for r in result.rows if r["name"] == name)


# --------------------------------------------------------------------------------------------- metrics


def test_it_rounds_rates_half_up_from_integers():
    assert m.format_rate(62113, 282230) == "22.01%"  # 0.2200793...
    assert m.format_rate(1, 8) == "12.50%"
    assert m.format_rate(1, 3) == "33.33%"
    assert m.format_rate(2, 3) == "66.67%"
    assert m.format_rate(1, 80000) == "0.00%"  # 0.00125% rounds down
    assert m.format_rate(1, 40000) == "0.00%"  # 0.0025%
    assert m.format_rate(1, 20000) == "0.01%"  # exactly 0.005% rounds half up
    assert m.format_rate(5, 0) == m.DASH
    assert m.format_rate(None, 10) == m.DASH


def test_it_ranks_ties_together_and_puts_missing_values_last():
    rate = m.get_metric("注册率")
    rows = [
        {"code": "1", "registered": 1, "population": 4},
        {"code": "2", "registered": 1, "population": None},
        {"code": "3", "registered": 2, "population": 8},
        {"code": "4", "registered": 3, "population": 4},
        {"code": "5", "registered": 0, "population": 0},
    ]
    ranked = m.rank_rows(rows, rate)
    assert [(r["code"], r["rank"]) for r in ranked] == [("4", 1), ("1", 2), ("3", 2), ("2", None), ("5", None)]
    assert m.format_delta(rate, Fraction(1, 4), Fraction(1, 5)) == "+5.00"
    assert m.format_delta(rate, Fraction(1, 5), Fraction(1, 4)) == "-5.00"
    assert m.format_delta(m.get_metric("app_registered"), 120, 100) == "+20"


# ------------------------------------------------------------------------------------- county ranking


def test_it_ranks_xinjiang_by_its_reference_bulletin(places):
    yuanqu = County.objects.get(name="垣曲县")
    assert yuanqu.population is None
    report(places.xinjiang, AUG13, 62113, 49213)
    report(places.jishan, AUG13, 80000, 60000)  # 80,000 ÷ 316,114 = 25.31%: ahead of 新绛县
    report(yuanqu, AUG13, 50000, 40000)  # no population: "—", last
    result = ranking("county", as_of=AUG13)
    xinjiang = row_of(result, "新绛县")
    assert (xinjiang["registered"], xinjiang["verified"], xinjiang["population"]) == (62113, 49213, 282230)
    assert xinjiang["value"] == "22.01%"
    assert m.BY_KEY["verification_rate"].display(xinjiang) == "17.44%"  # 49,213 ÷ 282,230 = 0.174372
    assert m.BY_KEY["verified_share"].display(xinjiang) == "79.23%"  # 49,213 ÷ 62,113 = 0.792314
    assert [r["name"] for r in result.rows[:2]] == ["稷山县", "新绛县"]
    assert (row_of(result, "稷山县")["rank"], xinjiang["rank"]) == (1, 2)
    yuanqu_row = row_of(result, "垣曲县")
    assert yuanqu_row["rank"] is None and yuanqu_row["value"] == m.DASH
    assert result.rows.index(yuanqu_row) > result.rows.index(xinjiang)  # sorted after every ranked county


def test_it_uses_the_population_the_report_gives(places):
    report(places.xinjiang, AUG13, 1000, 500, population=4000)
    assert row_of(ranking("county", as_of=AUG13), "新绛县")["value"] == "25.00%"


def test_it_shows_the_change_since_the_previous_report(places):
    day1, day2 = dt.date(2021, 8, 11), AUG13
    report(places.xinjiang, day1, 28223)  # 10.00%
    report(places.jishan, day1, 47417)  # 47,417 ÷ 316,114 = 15.00%
    report(places.xinjiang, day2, 62113)  # 22.01%
    report(places.jishan, day2, 50575)  # 15.999…% → 16.00%
    result = ranking("county", as_of=day2)
    assert result.previous_as_of == day1
    xinjiang, jishan = row_of(result, "新绛县"), row_of(result, "稷山县")
    assert (xinjiang["rank"], xinjiang["previous_rank"], xinjiang["rank_change"]) == (1, 2, 1)
    assert (jishan["rank"], jishan["previous_rank"], jishan["rank_change"]) == (2, 1, -1)
    assert xinjiang["delta"] == "+12.01"  # 22.0079% − 10.0000% = 12.0079 points
    assert jishan["delta"] == "+1.00"


# -------------------------------------------------------------------------------------- field figures


@pytest.fixture
def field_world(places):
    """周庄村 (2 grids): 4 households, 3 assigned; 2 members of 周庄村党支部 and 1 of 王庄村党支部.

    Visits: h1 qualifies on 8/1 (member a); h2 unsigned on 8/2 (not qualifying); h3 qualifies on 8/5
    (member a again); h1 again on 8/6. 王庄村: 1 household, never visited.
    """
    campaign = make_campaign()
    a = make_member(places.zhouzhuang, name="甲")
    b = make_member(places.zhouzhuang, name="乙")
    c = make_member(places.wangzhuang, name="丙")
    h1 = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, elderly_alone=True)
    h2 = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    h3 = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid2)
    h4 = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid2, student_family=True)
    w1 = make_household(places.wangzhuang)
    for h, member in ((h1, a), (h2, b), (h3, a), (w1, c)):
        make_assignment(h, member, campaign)
    good_visit(h1, a, 1, app_installed=3, app_registered=2, app_verified=1, alerts_enabled=1)
    good_visit(h2, b, 2, signed=False, app_installed=1, app_registered=1)
    good_visit(h3, a, 5)
    good_visit(h1, a, 6)
    rebuild_summaries()
    return {"campaign": campaign, "members": (a, b, c), "households": (h1, h2, h3, h4, w1)}


def test_it_counts_a_village_by_hand(field_world, places):
    early = row_of(ranking("village", places.longxing, as_of=dt.date(2021, 8, 3), metric="visit_rate"), "周庄村")
    assert (early["households"], early["visited"], early["signed"], early["visits"]) == (4, 1, 1, 2)
    assert early["value"] == "25.00%"  # 1 ÷ 4
    late = row_of(ranking("village", places.longxing, as_of=AUG13, metric="visit_rate"), "周庄村")
    assert (late["visited"], late["signed"], late["visits"], late["qualified_visits"]) == (2, 2, 4, 3)
    assert late["value"] == "50.00%"  # h1, h3 ÷ 4 households
    assert m.BY_KEY["coverage_rate"].display(late) == "75.00%"  # 3 assigned ÷ 4
    assert m.BY_KEY["participation_rate"].display(late) == "50.00%"  # 甲 visited, 乙's visit did not qualify
    assert (late["app_installed"], late["app_registered"], late["app_verified"], late["alerts_enabled"]) == (4, 3, 1, 1)
    assert m.BY_KEY["install_to_register"].display(late) == "75.00%"
    assert m.BY_KEY["register_to_verify"].display(late) == "33.33%"
    assert late["delta"] == "+0.00"  # no report dates: compared with the day before, nothing changed on 8/12


def test_it_adds_villages_up_to_town_and_county(field_world, places):
    town = row_of(ranking("town", places.xinjiang, as_of=AUG13, metric="visit_rate"), "龙兴镇")
    assert (town["households"], town["visited"], town["assigned"]) == (5, 2, 4)  # 周庄村 4 + 王庄村 1
    assert (town["members"], town["active_members"]) == (3, 1)
    county = row_of(ranking("county", as_of=AUG13, metric="visit_rate"), "新绛县")
    assert (county["households"], county["visited"], county["value"]) == (5, 2, "40.00%")


def test_it_ranks_grids_of_a_village_from_its_own_rows(field_world, places):
    result = ranking("grid", places.zhouzhuang, as_of=AUG13, metric="visit_rate")
    grid1, grid2 = row_of(result, "第1网格"), row_of(result, "第2网格")
    assert (grid1["households"], grid1["visited"], grid1["value"]) == (2, 1, "50.00%")
    assert (grid2["households"], grid2["visited"], grid2["value"]) == (2, 1, "50.00%")
    assert grid1["members"] is None  # members belong to organizations, not grids


def test_it_ranks_party_organizations(field_world, places):
    result = ranking("organization", places.xinjiang, as_of=AUG13)
    zhouzhuang = row_of(result, "周庄村党支部")
    assert (zhouzhuang["members"], zhouzhuang["active_members"], zhouzhuang["value"]) == (2, 1, "50.00%")
    # Households assigned to its members: h1, h2, h3; qualified visits to h1 and h3.
    assert (zhouzhuang["households"], zhouzhuang["visited"]) == (3, 2)
    assert row_of(result, "王庄村党支部")["value"] == "0.00%"


def test_it_follows_new_visits_through_the_signal(field_world, places, django_capture_on_commit_callbacks):
    h4 = field_world["households"][3]
    with django_capture_on_commit_callbacks(execute=True):
        good_visit(h4, field_world["members"][1], 7)
    # On commit the refresh job ran (inline: tests use the ImmediateBackend) and took the mark.
    assert not PendingVillage.objects.exists()
    row = row_of(ranking("village", places.longxing, as_of=AUG13, metric="visit_rate"), "周庄村")
    assert (row["visited"], row["value"]) == (3, "75.00%")
    early = row_of(ranking("village", places.longxing, as_of=dt.date(2021, 8, 6), metric="visit_rate"), "周庄村")
    assert early["visited"] == 2  # the new visit counts from 8月7日 on


def test_it_reads_rankings_without_writing(field_world, places, users):
    good_visit(field_world["households"][3], field_world["members"][1], 7)  # marks 周庄村, commits nothing
    campaign = field_world["campaign"]
    with CaptureQueriesContext(connection) as captured:
        for level, parent in (
            ("county", None),
            ("town", places.xinjiang),
            ("zone", places.xinjiang),
            ("organization", places.xinjiang),
            ("village", places.longxing),
            ("grid", places.zhouzhuang),
        ):
            ranking(level, parent, as_of=AUG13)
        villages_below_target(users.county, campaign, AUG13)
        progress_trend(campaign, AUG13)
        list(members_without_visit(users.county, days=7, as_of=AUG13))
        list(households_never_visited(users.county, campaign))
    writes = [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().split()[0].upper() in WRITES]
    assert writes == []
    assert PendingVillage.objects.filter(village=places.zhouzhuang).exists()
    # Read as they are: the new visit is not in the rows until someone refreshes.
    assert row_of(ranking("village", places.longxing, as_of=AUG13, metric="visit_rate"), "周庄村")["visited"] == 2


def test_it_leaves_fresh_marks_to_the_job_within_the_grace(field_world, places, users, client, settings):
    settings.DASHBOARD_REFRESH_GRACE_SECONDS = 30
    good_visit(field_world["households"][3], field_world["members"][1], 7)
    # A fresh mark: the page reads the rows as they are and leaves the refresh to the queued job.
    client.force_login(users.county)
    assert client.get(f"/dashboard/rank/village/{places.longxing.pk}/").status_code == 200
    assert PendingVillage.objects.filter(village=places.zhouzhuang).exists()
    assert row_of(ranking("village", places.longxing, as_of=AUG13, metric="visit_rate"), "周庄村")["visited"] == 2
    # The job db_worker runs picks it up.
    assert refresh_summaries.call() == 1
    assert not PendingVillage.objects.exists()
    assert row_of(ranking("village", places.longxing, as_of=AUG13, metric="visit_rate"), "周庄村")["visited"] == 3


@pytest.mark.parametrize(
    "url",
    [
        "/dashboard/rank/village/{town}/",
        "/dashboard/rank/village/{town}/?export=xlsx",
        "/dashboard/chase/villages/?date=2021-08-13",
        "/dashboard/trends/",
        "leaderboard",
    ],
)
def test_it_refreshes_before_reading_when_a_mark_outlives_the_grace(field_world, places, users, client, settings, url):
    settings.DASHBOARD_REFRESH_GRACE_SECONDS = 30
    good_visit(field_world["households"][3], field_world["members"][1], 7)
    # The worker is behind or down: once the mark is older than the grace the page's one freshness call
    # refreshes before the page reads.
    PendingVillage.objects.update(marked_at=timezone.now() - dt.timedelta(seconds=31))
    if url == "leaderboard":
        call_command("leaderboard", "--level", "village", "--parent", places.longxing.code, stdout=io.StringIO())
    else:
        client.force_login(users.county)
        assert client.get(url.format(town=places.longxing.pk)).status_code == 200
    assert not PendingVillage.objects.exists()
    row = row_of(ranking("village", places.longxing, as_of=AUG13, metric="visit_rate"), "周庄村")
    assert row["visited"] == 3


def test_it_issues_a_bulletin_from_every_mark_whatever_the_grace(field_world, places, users, settings):
    settings.DASHBOARD_REFRESH_GRACE_SECONDS = 30
    good_visit(field_world["households"][3], field_world["members"][1], 7)  # a fresh mark
    bulletin = issue_bulletin(
        as_of=AUG13, metric="visit_rate", user=users.county, level="town", parent_county=places.xinjiang
    )
    # Frozen for good, so the visit recorded before signing is in it (周庄村 4 + 王庄村 1 households).
    line = bulletin.lines.get(name="龙兴镇")
    assert (line.figures["visited"], line.figures["households"]) == (3, 5)
    assert not PendingVillage.objects.exists()


def test_it_requalifies_visits_when_the_campaign_rule_changes(field_world, places, django_capture_on_commit_callbacks):
    campaign = field_world["campaign"]
    with django_capture_on_commit_callbacks(execute=True):
        campaign.require_signed = False
        campaign.save()
    assert Visit.objects.filter(campaign=campaign, is_qualified=False).count() == 0
    row = row_of(ranking("village", places.longxing, as_of=AUG13, metric="visit_rate"), "周庄村")
    assert row["visited"] == 3  # h2's unsigned visit now counts
    with django_capture_on_commit_callbacks(execute=True):
        campaign.require_signed = True
        campaign.save()
    assert row_of(ranking("village", places.longxing, as_of=AUG13), "周庄村")["visited"] == 2


def test_it_rebuilds_the_same_rows_it_maintains(field_world, places, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        good_visit(field_world["households"][4], field_world["members"][2], 9)
    refresh_pending()
    maintained = sorted(VillageDaySummary.objects.values_list("village_id", "day", "visited", "visits"))
    call_command("refresh_summaries", "--all", verbosity=0)
    assert sorted(VillageDaySummary.objects.values_list("village_id", "day", "visited", "visits")) == maintained


@pytest.mark.django_db(transaction=True)
def test_it_vacuums_the_summaries_after_a_rebuild_outside_a_transaction():
    # The covering indexes answer alone only from pages VACUUM marked all-visible (PostgreSQL only).
    assert vacuum_summaries() is (connection.vendor == "postgresql")
    with transaction.atomic():
        assert vacuum_summaries() is False  # VACUUM cannot run in a transaction block: skipped, not an error


# ----------------------------------------------------------------------------------------- chase lists


def test_it_lists_members_without_recent_visits(field_world, users, places):
    a, b, c = field_world["members"]
    names = [p.name for p in members_without_visit(users.county, days=5, as_of=dt.date(2021, 8, 8))]
    assert "甲" not in names  # visited on 8/6
    assert names[0] == "丙"  # never visited comes first
    assert "乙" in names  # last visit 8/2
    assert not members_without_visit(users.other_county, days=5, as_of=dt.date(2021, 8, 8)).exists()


def test_it_lists_households_never_visited_vulnerable_first(field_world, users):
    h1, h2, h3, h4, w1 = field_world["households"]
    listed = list(households_never_visited(users.county, field_world["campaign"]))
    assert listed[0] == h4  # 学生家庭 first
    assert set(listed) == {h4, w1}
    assert list(households_never_visited(users.grid, field_world["campaign"])) == []  # 周庄村第1网格 all visited


def test_a_never_visited_list_of_an_earlier_day_counts_only_the_visits_up_to_it(field_world, users, client):
    # As the idle members: the list "截至 8月3日" still has h3 (first visited on 8/5) and the households added later
    # are not on it. The page reads the same rule.
    h1, h2, h3, h4, w1 = field_world["households"]
    campaign = field_world["campaign"]
    assert set(households_never_visited(users.county, campaign, dt.date(2021, 8, 3))) == {h3, h4, w1}
    assert set(households_never_visited(users.county, campaign, dt.date(2021, 8, 5))) == {h4, w1}
    h4.roster_start = dt.date(2021, 8, 4)
    h4.save()
    assert h4 not in households_never_visited(users.county, campaign, dt.date(2021, 8, 3))
    client.force_login(users.county)
    page = client.get(f"/dashboard/chase/households/?date=2021-08-03&campaign={campaign.pk}").content.decode()
    assert f">{h3.address}<" in page and f">{h1.address}<" not in page


def test_it_masks_phones_in_the_chase_list(field_world, users, client):
    client.force_login(users.county)
    response = client.get("/dashboard/chase/households/")
    h4 = field_world["households"][3]
    assert response.status_code == 200
    text = response.content.decode()
    assert h4.phone not in text and h4.phone[:3] + "****" + h4.phone[-4:] in text


def test_it_lists_villages_below_target(field_world, places, users, client):
    client.force_login(users.county)
    response = client.get("/dashboard/chase/villages/?date=2021-08-13")
    text = response.content.decode()
    assert "周庄村" in text and "王庄村" in text  # 50.00% and 0.00% under the 100% target
    assert text.index("王庄村") < text.index("周庄村")  # lowest first
    assert "共 2 个村未达目标" in text
    # Each row names its county and town and leads to the village's grid ranking.
    assert f'<a href="/dashboard/rank/grid/{places.zhouzhuang.pk}/">周庄村</a>' in text
    assert "<td>新绛县</td>" in text
    client.force_login(users.other_county)
    assert "周庄村" not in client.get("/dashboard/chase/villages/?date=2021-08-13").content.decode()


# --------------------------------------------------------------------------------------------- bulletins


def _reports_for_all(day, order):
    """One report per county with a population: ``order`` lists county names best first."""
    counties = {c.name: c for c in County.objects.exclude(population__isnull=True)}
    for i, name in enumerate(order):
        county = counties[name]
        report(county, day, county.population * (40 - i) // 100)


def test_it_freezes_a_bulletin_with_honour_and_shame_lists(places, users):
    names = list(County.objects.exclude(population__isnull=True).order_by("code").values_list("name", flat=True))
    _reports_for_all(AUG13, names)
    bulletin = issue_bulletin(as_of=AUG13, metric="registration_rate", user=users.city)
    lines = list(bulletin.lines.order_by("position"))
    assert [line.name for line in lines[:3]] == names[:3]
    assert [line.rank for line in lines[:3]] == [1, 2, 3]
    assert lines[-1].name == "垣曲县" and lines[-1].rank is None
    assert bulletin.label == "2021年第1期"
    assert [line.bottom_streak for line in lines if line.name in names[-3:]] == [1, 1, 1]
    with pytest.raises(PermissionError):
        bulletin.save()
    with pytest.raises(PermissionError):
        lines[0].delete()


def test_it_keeps_a_frozen_bulletin_when_data_changes(places, users, client):
    report(places.xinjiang, AUG13, 62113, 49213)
    bulletin = issue_bulletin(as_of=AUG13, metric="registration_rate", user=users.city)
    before = {line.code: (line.rank, line.figures) for line in bulletin.lines.all()}
    RegistrationReport.objects.filter(county=places.xinjiang).update(registered=70000)
    report(places.jishan, AUG13, 90000)
    after = {line.code: (line.rank, line.figures) for line in BulletinLine.objects.filter(bulletin=bulletin)}
    assert after == before
    client.force_login(users.county)
    text = client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode()
    assert "62,113" in text and "70,000" not in text and "22.01%" in text


def test_it_counts_bottom_streaks_across_bulletins(places, users, settings):
    settings.DASHBOARD_BOTTOM_STREAK = 5
    names = list(County.objects.exclude(population__isnull=True).order_by("code").values_list("name", flat=True))
    laggard, recovering = names[-1], names[-2]
    bulletins = []
    for i in range(6):
        day = dt.date(2021, 8, 1 + i)
        order = list(names)
        if i == 3:  # 'recovering' climbs to the top once, then falls back
            order.remove(recovering)
            order.insert(0, recovering)
        _reports_for_all(day, order)
        bulletins.append(issue_bulletin(as_of=day, metric="registration_rate", user=users.city))
    streaks = [dict(b.lines.values_list("name", "bottom_streak")) for b in bulletins]
    assert [s[laggard] for s in streaks] == [1, 2, 3, 4, 5, 6]
    assert [s[recovering] for s in streaks] == [1, 2, 3, 0, 1, 2]
    assert [b.number for b in bulletins] == [1, 2, 3, 4, 5, 6]
    ranks = dict(bulletins[3].lines.values_list("name", "previous_rank"))
    assert ranks[recovering] == len(names) - 1
    from outreach.dashboards.views import streak_threshold

    assert streak_threshold() == 5
    flagged = [line.name for line in bulletins[-1].lines.all() if line.bottom_streak >= streak_threshold()]
    assert sorted(flagged) == sorted([laggard, names[-3]])  # names[-3] stayed in the last three all along


def test_it_prints_and_exports_a_bulletin(places, users, client):
    names = list(County.objects.exclude(population__isnull=True).order_by("code").values_list("name", flat=True))
    _reports_for_all(AUG13, names)
    client.force_login(users.city)
    response = client.post("/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "registration_rate"})
    bulletin = Bulletin.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/dashboard/bulletins/{bulletin.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "红榜" in page and "黑榜" in page and "print.css" in page
    xlsx = client.get(f"/dashboard/bulletins/{bulletin.pk}/?export=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][:3] == ("名次", "单位", "注册率")
    assert rows[3][1] == names[0] and rows[3][0] == 1
    assert AccessLog.objects.filter(kind=AccessLog.Kind.EXPORT, subject="通报").exists()


def test_it_lets_only_the_city_issue_city_bulletins(places, users, client):
    client.force_login(users.county)
    assert (
        client.post("/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "registration_rate"}).status_code
        == 403
    )
    make_campaign()
    make_household(places.zhouzhuang)  # 龙兴镇 has an 入户率 (0 of 1), so the bulletin is not empty
    rebuild_summaries()
    response = client.post(
        "/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "visit_rate", "county": places.xinjiang.pk}
    )
    assert response.status_code == 302
    assert Bulletin.objects.get().parent_county == places.xinjiang
    assert (
        client.post(
            "/dashboard/bulletins/issue/", {"date": "2021-08-13", "metric": "visit_rate", "county": places.jishan.pk}
        ).status_code
        == 404
    )
    client.force_login(users.other_county)
    assert client.get(f"/dashboard/bulletins/{Bulletin.objects.get().pk}/").status_code == 404


# ---------------------------------------------------------------------------------------- pages, scope


def test_it_shows_every_county_the_county_ranking_but_not_other_counties_insides(field_world, users, places, client):
    report(places.xinjiang, AUG13, 62113, 49213)
    client.force_login(users.county)
    page = client.get("/dashboard/rank/county/?date=2021-08-13")
    assert page.status_code == 200
    text = page.content.decode()
    assert "新绛县" in text and "稷山县" in text and "62,113" in text and "22.01%" in text
    assert client.get(f"/dashboard/rank/town/{places.xinjiang.pk}/").status_code == 200
    assert client.get(f"/dashboard/rank/town/{places.jishan.pk}/").status_code == 404
    assert client.get(f"/dashboard/rank/organization/{places.jishan.pk}/").status_code == 404
    assert client.get(f"/dashboard/rank/village/{places.jishan_town.pk}/").status_code == 404
    assert client.get(f"/dashboard/rank/grid/{places.jishan_village.pk}/").status_code == 404
    assert client.get(f"/dashboard/rank/grid/{places.zhouzhuang.pk}/").status_code == 200
    client.force_login(users.town)
    assert client.get(f"/dashboard/rank/village/{places.longxing.pk}/").status_code == 200
    assert client.get(f"/dashboard/rank/village/{places.sanquan.pk}/").status_code == 404
    client.force_login(users.grid)
    assert client.get("/dashboard/rank/county/").status_code == 200
    assert client.get(f"/dashboard/rank/grid/{places.wangzhuang.pk}/").status_code == 404


def test_it_asks_anonymous_visitors_to_log_in(client, places):
    response = client.get("/dashboard/rank/county/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get("/").status_code == 302


def test_it_drills_down_and_sorts(field_world, users, places, client):
    client.force_login(users.city)
    text = client.get(f"/dashboard/rank/village/{places.longxing.pk}/?date=2021-08-13").content.decode()
    assert f"/dashboard/rank/grid/{places.zhouzhuang.pk}/" in text
    ascending = client.get(f"/dashboard/rank/village/{places.longxing.pk}/?date=2021-08-13&sort=visit_rate")
    names = [r["name"] for r in ascending.context["table"].data]
    # 王庄村 0.00% < 周庄村 50.00%; villages with no households ("—") stay last either way.
    assert names.index("王庄村") < names.index("周庄村")
    descending = client.get(f"/dashboard/rank/village/{places.longxing.pk}/?date=2021-08-13&sort=-visit_rate")
    names = [r["name"] for r in descending.context["table"].data]
    assert names[:2] == ["周庄村", "王庄村"]


def test_drill_links_follow_the_viewers_scope_asking_the_database_only_when_the_keys_do_not_tell(
    field_world, users, places, client
):
    def links(user, url):
        client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            text = client.get(url).content.decode()
        # The reachability query reads only the rows' keys of the place table: SELECT "places_x"."id" AS "pk" FROM …
        asked = any('"."id" AS "pk" FROM "places_' in q["sql"] for q in ctx.captured_queries)
        return text, asked

    towns = f"/dashboard/rank/town/{places.xinjiang.pk}/?date=2021-08-13"
    villages = f"/dashboard/rank/village/{places.longxing.pk}/?date=2021-08-13"
    # The county admin reaches every town and village of the county: told by the county key, no query.
    text, asked = links(users.county, towns)
    assert (
        f"/dashboard/rank/village/{places.longxing.pk}/" in text
        and f"/dashboard/rank/village/{places.sanquan.pk}/" in text
    )
    assert not asked
    text, asked = links(users.county, villages)
    assert f"/dashboard/rank/grid/{places.zhouzhuang.pk}/" in text and not asked
    # The town admin sees the county's towns ranked but opens only their own: that is asked of the database.
    text, asked = links(users.town, towns)
    assert f"/dashboard/rank/village/{places.longxing.pk}/" in text
    assert f"/dashboard/rank/village/{places.sanquan.pk}/" not in text and asked
    text, asked = links(users.town, villages)
    assert f"/dashboard/rank/grid/{places.zhouzhuang.pk}/" in text and not asked


def test_it_exports_the_ranking_in_its_columns(field_world, users, places, client):
    make_org(places.zhouzhuang, name="=HYPERLINK(1)")
    rebuild_summaries()
    client.force_login(users.county)
    url = f"/dashboard/rank/organization/{places.xinjiang.pk}/?date=2021-08-13"
    page = client.get(url)
    headers = [str(c.header) for c in page.context["table"].columns if c.visible]
    sheet = load_workbook(io.BytesIO(client.get(url + "&export=xlsx").content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[2]) == headers
    names = [r[headers.index("单位")] for r in rows[3:]]
    assert "=HYPERLINK(1)" in names and "周庄村党支部" in names  # quote-prefixed, see test_exports
    zhouzhuang = rows[3 + names.index("周庄村党支部")]
    assert zhouzhuang[headers.index("党员参与率")] == 0.5 and zhouzhuang[headers.index("党员数")] == 2


def test_it_draws_trends_without_scripts_or_inline_styles(field_world, users, places, client):
    for day, value in ((dt.date(2021, 8, 11), 50000), (AUG13, 62113)):
        report(places.xinjiang, day, value)
    client.force_login(users.county)
    text = client.get("/dashboard/trends/?date=2021-08-13").content.decode()
    assert text.count("<svg") == 2 and "<polyline" in text
    assert "<script" not in text and "style=" not in text and "<style" not in text


def test_it_keeps_templates_free_of_inline_scripts_and_styles():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "templates"
    for path in [root / "base.html", *(root / "dashboards").glob("*.html")]:
        text = path.read_text()
        assert "<script>" not in text and "style=" not in text and "<style" not in text and "onclick" not in text, path


def test_it_answers_rankings_with_queries_that_do_not_grow_with_rows(
    places, users, client, django_assert_max_num_queries
):
    campaign = make_campaign()
    report(places.xinjiang, AUG13, 62113, 49213)
    member = make_member(places.zhouzhuang)
    make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    rebuild_summaries()
    client.force_login(users.city)
    urls = [
        "/dashboard/rank/county/?date=2021-08-13",
        f"/dashboard/rank/town/{places.xinjiang.pk}/?date=2021-08-13",
        f"/dashboard/rank/zone/{places.xinjiang.pk}/?date=2021-08-13",
        f"/dashboard/rank/village/{places.longxing.pk}/?date=2021-08-13",
        f"/dashboard/rank/grid/{places.zhouzhuang.pk}/?date=2021-08-13",
        f"/dashboard/rank/organization/{places.xinjiang.pk}/?date=2021-08-13",
    ]

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            result.append(len(ctx.captured_queries))
        return result

    small = counts()
    for village in (places.zhouzhuang, places.wangzhuang, places.sanquan_village):
        for _ in range(5):
            h = make_household(village, grid=places.zhouzhuang_grid if village == places.zhouzhuang else None)
            make_assignment(h, make_member(village), campaign)
            good_visit(h, member, 3)
    report(places.jishan, AUG13, 50000)
    rebuild_summaries()
    assert counts() == small
    with django_assert_max_num_queries(25):
        client.get(urls[0])


# What each page costs in queries (issue 13): the session and the user, the freshness check, the campaign rule's
# one snapshot, then the page's own reads. None may grow with rows, campaigns or counties.
PAGE_QUERIES = {
    # Session, user, the campaign snapshot and the page's own reads, plus what every dashboard page carries: the
    # 我的督办 count, one freshness probe (villages and organizations in one UNION ALL), the roster-correction
    # count (one query when there is none). A permission the role grants costs no query (RoleBackend first).
    "/dashboard/rank/county/?date=2021-08-13": 12,
    "/dashboard/rank/county/": 12,
    "/dashboard/trends/?date=2021-08-13": 9,
    "/dashboard/chase/members/": 6,
    "/dashboard/chase/households/?date=2021-08-13": 5,
    "/dashboard/chase/villages/?date=2021-08-13": 7,
    "/dashboard/bulletins/": 7,
}


def test_it_answers_every_dashboard_page_in_queries_that_do_not_grow(places, users, client):
    from outreach.places.models import County

    campaign = make_campaign()
    report(places.xinjiang, AUG13, 62113, 49213)
    member = make_member(places.zhouzhuang)
    household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    good_visit(household, member, 3)
    rebuild_summaries()
    client.force_login(users.city)

    def counts():
        result = {}
        for url in PAGE_QUERIES:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200, url
            result[url] = len(ctx.captured_queries)
        return result

    small = counts()
    assert small == PAGE_QUERIES
    # More campaigns (one per county, as 专项 are), more report dates, more rows: the same counts.
    for n, county in enumerate(County.objects.all()):
        make_campaign(f"专项{n}", start_date=AUG13, end_date=AUG13).counties.set([county])
        report(county, AUG13 - dt.timedelta(days=1), 1000 + n)
    for village in (places.zhouzhuang, places.wangzhuang, places.sanquan_village):
        for _ in range(3):
            h = make_household(village)
            make_assignment(h, make_member(village), campaign)
            good_visit(h, member, 4)
    rebuild_summaries()
    assert counts() == small


def test_it_prints_the_leaderboard_as_json(places, capsys):
    report(places.xinjiang, AUG13, 62113, 49213)
    call_command("leaderboard", "--date", "2021-08-13", "--metric", "注册率", "--json")
    rows = json.loads(capsys.readouterr().out)
    xinjiang = next(r for r in rows if r["name"] == "新绛县")
    assert (xinjiang["rank"], xinjiang["code"], xinjiang["value"]) == (1, "140825000000", "22.01%")
    assert (xinjiang["numerator"], xinjiang["denominator"]) == (62113, 282230)
    call_command("leaderboard", "--level", "town", "--parent", "新绛县", "--metric", "入户率")
    assert "龙兴镇" in capsys.readouterr().out


def test_it_leaves_stale_villages_to_a_refresh_already_running(places):
    if connection.vendor != "postgresql":
        pytest.skip("the refresh lock is PostgreSQL's advisory lock; SQLite serialises writers itself")
    import psycopg

    from outreach.dashboards import services

    make_household(places.zhouzhuang)
    services.mark_villages_stale([places.zhouzhuang.pk])
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [services._LOCK_KEY])
        assert refresh_pending() == 0
        assert PendingVillage.objects.filter(village=places.zhouzhuang).exists()
        other.execute("SELECT pg_advisory_unlock(%s)", [services._LOCK_KEY])
    assert refresh_pending() == 1
    assert not PendingVillage.objects.exists()


def test_it_offers_each_role_only_the_bulletins_it_may_issue(places, users, client):
    client.force_login(users.county)
    text = client.get("/dashboard/bulletins/").content.decode()
    assert "新绛县各乡镇（街道）" in text and "稷山县各乡镇" not in text and "全市各县（市、区）</option>" not in text
    client.force_login(users.town)
    assert "签发通报" not in client.get("/dashboard/bulletins/").content.decode()
    client.force_login(users.city)
    text = client.get("/dashboard/bulletins/").content.decode()
    assert "全市各县（市、区）</option>" in text and "稷山县各乡镇（街道）" in text


def test_it_sorts_the_change_since_the_previous_report_as_a_number(places, users, client):
    import datetime as dt

    from outreach.registrations.models import RegistrationReport

    first, second = dt.date(2021, 8, 11), dt.date(2021, 8, 13)
    changes = {places.xinjiang: (1000, 1900), places.jishan: (1000, 1100)}
    for county, (before, after) in changes.items():
        RegistrationReport.objects.create(county=county, as_of=first, registered=before, verified=0, population=10000)
        RegistrationReport.objects.create(county=county, as_of=second, registered=after, verified=0, population=10000)
    client.force_login(users.city)
    names = []
    for sort in ("delta", "-delta"):
        page = client.get("/dashboard/rank/county/", {"date": "2021-08-13", "sort": sort})
        rows = [r for r in page.context["table"].data if r.get("delta_value") is not None]
        names.append([r["name"] for r in rows])
    assert names[0] == ["稷山县", "新绛县"] and names[1] == ["新绛县", "稷山县"]  # +1.00 before +9.00, and back


def test_the_trend_chart_gives_every_county_its_own_colour_and_round_ticks():
    import re
    from fractions import Fraction

    from outreach.dashboards import charts

    assert len(set(charts.PALETTE)) == len(charts.PALETTE) >= 13
    assert [charts._tick_label(charts.nice_step(Fraction(v) / 100) * 4) for v in ("27.5", "13.75", "0.9", "61")] == [
        "40%", "20%", "1%", "80%"
    ]  # fmt: skip
    series = [{"name": f"县{i}", "values": [Fraction(i + 1, 100), Fraction(i + 2, 100)]} for i in range(13)]
    svg = charts.line_chart([dt.date(2021, 8, 11), dt.date(2021, 8, 13)], series, title="注册率")
    strokes = re.findall(r'<polyline[^>]*stroke="(#[0-9a-f]{6})"', svg)
    assert len(strokes) == 13 and len(set(strokes)) == 13
    ticks = re.findall(r'text-anchor="end" fill="#6b7280">([^<]+)<', svg)
    assert ticks == ["0%", "5%", "10%", "15%", "20%"]


def test_a_member_is_told_the_village_chase_list_is_not_theirs_rather_than_shown_zero(places, users, client):
    client.force_login(users.member)
    page = client.get("/dashboard/chase/villages/").content.decode()
    assert "不代表各村都已达标" in page and "没有未达目标的村" not in page
    client.force_login(users.town)
    assert "不代表各村都已达标" not in client.get("/dashboard/chase/villages/").content.decode()


def test_it_puts_the_same_households_first_on_the_phone_and_in_the_chase_list(places, users, client):
    from outreach.mobile.queries import my_households
    from outreach.people.models import VULNERABLE_FIELDS, Household, vulnerable_q

    campaign = make_campaign()
    plain = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="甲")
    tagged = {
        name: make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name=f"乙{i}", **{name: True})
        for i, name in enumerate(VULNERABLE_FIELDS)
    }
    both = make_household(
        places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="丙", elderly_alone=True, no_smartphone=True
    )
    vulnerable = {h.pk for h in tagged.values()} | {both.pk}
    assert set(Household.objects.filter(vulnerable_q()).values_list("pk", flat=True)) == vulnerable
    chase = [h.pk for h in households_never_visited(users.grid, campaign)]
    phone = [r["id"] for r in my_households(users.grid, campaign)["rows"]]
    for listed in (chase, phone):
        assert set(listed[:5]) == vulnerable and listed[5] == plain.pk
    # The tags read the fields' own labels, the same on both pages.
    rows = {r["id"]: r for r in my_households(users.grid, campaign)["rows"]}
    assert rows[both.pk]["tags"] == ["独居老人", "无智能手机"] and rows[plain.pk]["tags"] == []
    client.force_login(users.grid)
    assert "独居老人、无智能手机" in client.get("/dashboard/chase/households/").content.decode()
