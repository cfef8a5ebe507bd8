"""Figures as of a date (issue 16, items 1 and 5): a ranking of a past day counts the roster as it stood that day,
moves only when a correction is recorded (and then says so), and names the 常住人口 it divides by.

The world: a campaign running today, households and members on the roster since ``factories.WORLD_START``,
qualifying visits before a past day D. Households added today, struck off today, or a member who left today
must not move D's ranking; a struck-off date set to before D (a recorded correction) must, with the note.
"""

import datetime as dt
import io

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone

from outreach.dashboards.bulletins import issue_bulletin
from outreach.dashboards.queries import households_never_visited, members_without_visit, ranking
from outreach.dashboards.services import rebuild_summaries
from outreach.dataio.exporters import export_file
from outreach.dataio.services import import_file
from outreach.lib.append_only import AppendOnlyError
from outreach.mobile.queries import my_households
from outreach.people.models import Household, HouseholdEndReason, MemberLeftReason, PartyMember, RosterCorrection
from outreach.people.services import CorrectionNeedsReason, end_household
from outreach.places.models import County, PopulationBasis, PopulationChange
from outreach.places.services import set_population
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import FraudType
from tests import factories
from tests.dataio_files import simple_book

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PAST = TODAY - dt.timedelta(days=10)  # the day the ranking is for (D)


def at(day: dt.date, hour=10):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def world(places, users):
    """周庄村 (4 households, 2 visited before D) and 王庄村 (2 households, 1 visited), one member each."""
    campaign = factories.make_running_campaign()
    scripts = list(FraudType.objects.values_list("pk", flat=True)[:1])
    homes = {}
    for village, n, visited in ((places.zhouzhuang, 4, 2), (places.wangzhuang, 2, 1)):
        member = factories.make_member(village)
        homes[village.pk] = []
        for i in range(n):
            household = factories.make_household(
                village, grid=places.zhouzhuang_grid if village == places.zhouzhuang else None
            )
            factories.make_assignment(household, member, campaign)
            if i < visited:
                factories.make_visit(
                    household,
                    visitor=member,
                    campaign=campaign,
                    visited_at=at(PAST - dt.timedelta(days=5)),
                    met_person=True,
                    explained=True,
                    signed=True,
                    fraud_types=scripts,
                )
            homes[village.pk].append(household)
    rebuild_summaries()
    return campaign, homes


def figures(level="village", parent=None, day=PAST, campaign=None):
    """{name: (households, visited, 入户率, members, 参与率)} of a ranking, and the ranking itself."""
    result = ranking(level, parent, day, "visit_rate", campaign=campaign)
    return {
        r["name"]: (r["households"], r["visited"], r["value"], r.get("members"), r["v_participation_rate"])
        for r in result.rows
        if r["households"] or r.get("members")
    }, result


def test_it_keeps_a_past_ranking_when_households_and_members_change_today(places, users, world):
    campaign, homes = world
    before, result = figures(parent=places.longxing, campaign=campaign)
    assert before["周庄村"][:3] == (4, 2, "50.00%")
    assert result.correction_text == ""
    county_before, _ = figures("town", places.xinjiang, campaign=campaign)

    # Today: two households added, one struck off, one member leaves; none of it reaches D.
    factories.make_household(places.zhouzhuang, roster_start=TODAY)
    factories.make_household(places.wangzhuang, roster_start=TODAY)
    end_household(homes[places.zhouzhuang.pk][3], day=TODAY, reason=HouseholdEndReason.MOVED, note="迁往运城市区")
    member = PartyMember.objects.filter(organization__village=places.wangzhuang).get()
    member.left_on, member.left_reason = TODAY, MemberLeftReason.TRANSFERRED
    member.save()
    rebuild_summaries()

    after, result = figures(parent=places.longxing, campaign=campaign)
    assert after == before
    assert figures("town", places.xinjiang, campaign=campaign)[0] == county_before
    assert result.correction_text == "" and not RosterCorrection.objects.exists()
    # Today's ranking counts today's roster: 4 + 1 − 1 in 周庄村, and 王庄村 without its member.
    today, _ = figures(parent=places.longxing, day=TODAY, campaign=campaign)
    assert today["周庄村"][0] == 4 and today["王庄村"][0] == 3
    assert today["王庄村"][3] == 0
    # Nothing was deleted.
    assert Household.objects.filter(village=places.zhouzhuang).count() == 5


def test_it_moves_a_past_ranking_with_a_note_when_a_correction_is_recorded(places, users, world):
    campaign, homes = world
    before, _ = figures(parent=places.longxing, campaign=campaign)
    duplicate = homes[places.zhouzhuang.pk][3]  # never visited
    with pytest.raises(CorrectionNeedsReason):
        end_household(duplicate, day=PAST - dt.timedelta(days=20), reason=HouseholdEndReason.DUPLICATE)
    duplicate.refresh_from_db()
    assert duplicate.roster_end is None

    end_household(
        duplicate,
        day=duplicate.roster_start,
        reason=HouseholdEndReason.DUPLICATE,
        user=users.county,
        why="与第1户是同一户，登记了两次",
    )
    rebuild_summaries()
    after, result = figures(parent=places.longxing, campaign=campaign)
    assert before["周庄村"][:3] == (4, 2, "50.00%")
    assert after["周庄村"][:3] == (3, 2, "66.67%")
    assert after["王庄村"] == before["王庄村"]
    note = result.correction_text
    assert "事后更正" in note and "与第1户是同一户" in note and "移出花名册日期" in note
    row = next(r for r in result.rows if r["name"] == "周庄村")
    assert row["roster_corrections"] == 1
    correction = RosterCorrection.objects.get()
    assert correction.recorded_by == users.county and correction.affects_from == duplicate.roster_start
    with pytest.raises(AppendOnlyError):
        correction.delete()

    # The page and its Excel say so; a ranking of a day before the correction's first day does not.
    client = Client()
    client.force_login(users.county)
    url = f"/dashboard/rank/village/{places.longxing.pk}/?date={PAST:%Y-%m-%d}&campaign={campaign.pk}"
    assert "花名册事后更正" in client.get(url).content.decode()
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(url + "&export=xlsx").content)).worksheets[0]
    assert any("花名册事后更正" in str(row[0]) for row in sheet.iter_rows(max_row=4, values_only=True))
    # The town ranking of 新绛县 names the town; a bulletin issued now freezes the note with its lines.
    bulletin = issue_bulletin(
        as_of=PAST, metric="visit_rate", user=users.county, level="town", parent_county=places.xinjiang,
        campaign=campaign,
    )  # fmt: skip
    line = bulletin.lines.get(name="龙兴镇")
    assert line.figures["roster_corrections"] == 1
    page = client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode()
    assert "花名册事后更正已计入龙兴镇（1处）" in page


def test_it_lists_only_the_current_roster_for_chasing_and_on_the_phone(places, users, world):
    campaign, homes = world
    gone = homes[places.zhouzhuang.pk][3]
    assert gone in households_never_visited(users.city, campaign)
    end_household(gone, day=TODAY, reason=HouseholdEndReason.MOVED)
    assert gone not in households_never_visited(users.city, campaign)
    shown = {row["id"] for row in my_households(users.grid, campaign)["rows"]}
    assert gone.pk not in shown and homes[places.zhouzhuang.pk][0].pk in shown
    member = PartyMember.objects.filter(organization__village=places.zhouzhuang).get()
    assert member in members_without_visit(users.city, days=3)
    member.left_on, member.left_reason = TODAY, MemberLeftReason.DECEASED
    member.save()
    assert member not in members_without_visit(users.city, days=3)


def test_it_counts_a_grid_ranking_by_the_roster_of_the_day(places, users, world):
    campaign, homes = world
    end_household(homes[places.zhouzhuang.pk][0], day=TODAY, reason=HouseholdEndReason.MOVED)  # a visited one
    past, _ = figures("grid", places.zhouzhuang, campaign=campaign)
    today, _ = figures("grid", places.zhouzhuang, day=TODAY, campaign=campaign)
    assert past["第1网格"][:2] == (4, 2)
    assert today["第1网格"][:2] == (3, 1)


def test_it_ends_households_by_import_and_asks_why_for_a_past_date(tmp_path, places, users, world):
    campaign, homes = world
    first, second = homes[places.zhouzhuang.pk][2:4]
    head = ["户编号", "镇（街道）", "村（社区）", "户主姓名", "移出花名册日期", "移出原因", "更正原因"]

    def run(*rows):
        path = tmp_path / "花名册.xlsx"
        path.write_bytes(simple_book([head, *rows]))
        return import_file("households", path, user=users.county)

    report = run([first.pk, "龙兴镇", "周庄村", first.head_name, f"{TODAY:%Y-%m-%d}", "迁出", ""])
    assert report.ok, report.errors
    first.refresh_from_db()
    assert (first.roster_end, first.end_reason) == (TODAY, HouseholdEndReason.MOVED)
    assert not RosterCorrection.objects.exists()

    report = run([second.pk, "龙兴镇", "周庄村", second.head_name, f"{PAST:%Y-%m-%d}", "重复登记", ""])
    assert not report.ok
    assert "更正原因" in report.errors[0].message and report.errors[0].column == "移出花名册日期"
    report = run(
        [second.pk, "龙兴镇", "周庄村", second.head_name, f"{PAST:%Y年%m月%d日}", "重复登记", "核实为重复登记"]
    )
    assert report.ok, report.errors
    correction = RosterCorrection.objects.get()
    assert correction.household_id == second.pk and "核实为重复登记" in correction.reason
    assert correction.recorded_by == users.county

    report = run([second.pk, "龙兴镇", "周庄村", second.head_name, f"{TODAY:%Y-%m-%d}", "", ""])
    assert "须写明移出原因" in report.errors[0].message
    # A household does not move villages in place: that would rewrite two villages' past figures.
    report = run([first.pk, "龙兴镇", "王庄村", first.head_name, "", "", ""])
    assert "不能直接改到别的村" in report.errors[0].message

    # The roster export carries the dates, so the file round-trips.
    path = tmp_path / "out.xlsx"
    export_file("households", path, user=users.county, county=places.xinjiang)
    rows = list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True))
    header = next(r for r in rows if "户主姓名" in r)
    line = next(r for r in rows if r[header.index("户编号")] == second.pk)
    assert line[header.index("移出原因")] == "重复登记"
    assert line[header.index("移出花名册日期")].date() == PAST


def test_it_records_a_member_leaving_by_import(tmp_path, places, users, world):
    member = PartyMember.objects.filter(organization__village=places.zhouzhuang).get()
    head = ["党员编号", "党员姓名", "所在党组织", "离开日期", "离开原因", "更正原因"]
    path = tmp_path / "党员.xlsx"
    path.write_bytes(
        simple_book([head, [member.pk, member.name, member.organization.name, f"{PAST:%Y-%m-%d}", "组织关系转出", ""]])
    )
    report = import_file("members", path, user=users.county)
    assert "更正原因" in report.errors[0].message
    path.write_bytes(
        simple_book([head, [member.pk, member.name, member.organization.name, f"{TODAY:%Y-%m-%d}", "组织关系转出", ""]])
    )
    assert import_file("members", path, user=users.county).ok
    member.refresh_from_db()
    assert (member.left_on, member.left_reason) == (TODAY, MemberLeftReason.TRANSFERRED)


def test_it_keeps_household_deletion_for_superusers_and_asks_why_in_the_admin(places, users, superuser, world):
    campaign, homes = world
    household = homes[places.zhouzhuang.pk][3]
    client = Client()
    client.force_login(users.county)
    assert client.get(f"/admin/people/household/{household.pk}/delete/").status_code == 403
    change = f"/admin/people/household/{household.pk}/change/"
    data = {
        "head_name": household.head_name, "phone": household.phone, "address": household.address, "size": 1,
        "note": "", "village": places.zhouzhuang.pk, "grid": places.zhouzhuang_grid.pk,
        "roster_start": f"{household.roster_start:%Y-%m-%d}", "roster_end": f"{PAST:%Y-%m-%d}",
        "end_reason": "moved", "end_note": "", "correction_reason": "",
        "residents-TOTAL_FORMS": 0, "residents-INITIAL_FORMS": 0,
    }  # fmt: skip
    response = client.post(change, data)
    assert response.status_code == 200 and "请写明更正原因" in response.content.decode()
    data["correction_reason"] = "村里报告该户8月初已迁走，补录"
    response = client.post(change, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    household.refresh_from_db()
    assert household.roster_end == PAST
    assert RosterCorrection.objects.get().reason == "村里报告该户8月初已迁走，补录"
    admin = Client()
    admin.force_login(superuser)
    assert (
        "录入错误的记录才应删除"
        in admin.get(
            f"/admin/people/household/{homes[places.wangzhuang.pk][1].pk}/delete/", follow=True
        ).content.decode()
    )


# ---------------------------------------------------------------------------------------------- item 5


def test_it_logs_every_population_change_with_who_and_why(places, users):
    county = places.xinjiang
    assert county.population_basis == PopulationBasis.CENSUS and county.population_year == 2020
    assert county.population_label == "第七次人口普查常住人口（2020）"
    with pytest.raises(ValueError, match="原因"):
        set_population(county, 290_000, year=2021, basis=PopulationBasis.BULLETIN, source="", reason="")
    old = county.population
    change = set_population(
        county,
        290_000,
        year=2021,
        basis=PopulationBasis.BULLETIN,
        source="市公安局通报",
        reason="按通报口径",
        user=users.city,
    )
    assert (change.old_value, change.new_value, change.new_year, change.changed_by) == (old, 290_000, 2021, "city")
    with pytest.raises(AppendOnlyError):
        change.save()
    county.refresh_from_db()
    assert county.population_label == "通报给出的常住人口（2021）"
    assert set_population(county, 290_000, year=2021, basis="bulletin", source="市公安局通报", reason="") is None

    client = Client()
    client.force_login(users.city)
    url = f"/admin/places/county/{county.pk}/change/"
    data = {"name": county.name, "population": 300_000, "population_year": 2021, "population_basis": "bulletin",
            "population_source": "市公安局通报", "population_reason": ""}  # fmt: skip
    assert "须写明原因" in client.post(url, data).content.decode()
    data["population_reason"] = "通报更正"
    assert client.post(url, data).status_code == 302
    last = PopulationChange.objects.filter(county=county).first()
    assert (last.old_value, last.new_value, last.reason, last.changed_by) == (290_000, 300_000, "通报更正", "city")


def test_it_names_the_denominator_on_the_page_its_excel_the_export_and_the_bulletin(tmp_path, places, users):
    day = dt.date(2022, 5, 20)
    RegistrationReport.objects.create(county=places.xinjiang, as_of=day, registered=60_000, verified=40_000)
    RegistrationReport.objects.create(
        county=places.jishan, as_of=day, registered=50_000, verified=30_000, population=400_000
    )
    result = ranking("county", None, day, "registration_rate")
    rows = {r["name"]: r for r in result.rows}
    assert rows["新绛县"]["population_source"] == "第七次人口普查常住人口（2020）"
    assert rows["稷山县"]["population_source"] == "通报给出的常住人口（2022年5月20日通报）"
    assert "稷山县" in result.denominator_text and "第七次人口普查常住人口（2020）" in result.denominator_text

    client = Client()
    client.force_login(users.city)
    page = client.get(f"/dashboard/rank/county/?date={day:%Y-%m-%d}").content.decode()
    assert "注册率、实名率的分母" in page and "常住人口口径" in page
    # A cell shows the short name, the full one as its tooltip: a row stays one line.
    assert '<span title="通报给出的常住人口（2022年5月20日通报）">通报（2022年5月20日）</span>' in page
    assert '<span title="第七次人口普查常住人口（2020）">七普（2020）</span>' in page
    sheet = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/dashboard/rank/county/?date={day:%Y-%m-%d}&export=xlsx").content)
    ).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    header = next(r for r in table if r and "常住人口口径" in r)
    by_name = {r[header.index("单位")]: r for r in table[table.index(header) + 1 :]}
    assert by_name["稷山县"][header.index("常住人口口径")] == "通报给出的常住人口（2022年5月20日通报）"

    path = tmp_path / "reg.xlsx"
    export_file("registrations", path, as_of=day)
    table = list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True))
    header = next(r for r in table if r and "常住人口口径" in r)
    sources = {
        r[header.index("县（市、区）")]: r[header.index("常住人口口径")] for r in table[table.index(header) + 1 :]
    }
    assert sources == {"新绛县": "第七次人口普查常住人口（2020）", "稷山县": "通报给出的常住人口（2022年5月20日通报）"}

    bulletin = issue_bulletin(as_of=day, metric="registration_rate", user=users.city)
    assert bulletin.lines.get(name="新绛县").figures["population_source"] == "第七次人口普查常住人口（2020）"
    page = client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode()
    assert "注册率、实名率的分母" in page and "通报给出的常住人口（2022年5月20日通报）：稷山县" in page
    # A population changed afterwards moves today's reading of that day, never the issued bulletin.
    set_population(
        County.objects.get(pk=places.xinjiang.pk), 100_000, year=2021, basis="other", source="", reason="测试"
    )
    assert (
        ranking("county", None, day, "registration_rate").rows[0]["population_source"] == "其他来源的常住人口（2021）"
    )
    bulletin.refresh_from_db()
    assert bulletin.lines.get(name="新绛县").figures["population_source"] == "第七次人口普查常住人口（2020）"


def test_it_loads_the_census_once_and_keeps_a_population_changed_by_hand(places, users):
    from outreach.places.services import load_divisions

    logged = PopulationChange.objects.count()
    load_divisions()
    assert PopulationChange.objects.count() == logged  # the same census figures: nothing new to log
    county = County.objects.get(pk=places.jishan.pk)
    set_population(county, 123_456, year=2022, basis="bulletin", source="市通报", reason="按通报", user=users.city)
    load_divisions()
    county.refresh_from_db()
    assert (county.population, county.population_basis) == (123_456, "bulletin")
