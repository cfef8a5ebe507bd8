"""The campaign rule (``outreach.campaigns.rules``) and the one answer every path gives with it.

The world of issue 11: 全市 (running, every county), 新绛专项 (running, 新绛县 only, started later) and 明年
(not started). Before the rule lived in one place a 稷山 visit went to 全市, the city ranking read 新绛专项 and a
稷山 sheet without a campaign in its title went into 明年.
"""

import datetime as dt
import json
import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from outreach.accounts.models import Role
from outreach.campaigns.models import Assignment
from outreach.campaigns.rules import CampaignRefused, import_campaign, page_campaign, visit_campaign
from outreach.dashboards.bulletins import issue_bulletin
from outreach.dashboards.models import Bulletin
from outreach.dashboards.services import rebuild_summaries
from outreach.dataio.readers import UploadRefused
from outreach.dataio.services import import_file
from outreach.visits.models import FraudType, Visit
from tests import factories
from tests.dataio_files import responsibility_book

pytestmark = pytest.mark.django_db

API = "/m/api/visits/"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def world(places):
    today = timezone.localdate()
    city = factories.make_campaign("全市", start_date=today - dt.timedelta(days=60), end_date=today + dt.timedelta(90))
    xinjiang_own = factories.make_campaign(
        "新绛专项", start_date=today - dt.timedelta(days=10), end_date=today + dt.timedelta(days=90)
    )
    xinjiang_own.counties.set([places.xinjiang])
    next_year = factories.make_campaign(
        "明年", start_date=today + dt.timedelta(days=200), end_date=today + dt.timedelta(days=400)
    )
    next_year.counties.set([places.jishan, places.xinjiang])
    return type("World", (), {"city": city, "xinjiang_own": xinjiang_own, "next_year": next_year, "today": today})


def grid_worker(places, grid, county):
    user = factories.make_user(Role.GRID, county=county, town=grid.village.town)
    user.grids.set([grid])
    client = Client()
    client.force_login(user)
    return user, client


def visit_body(household, **overrides):
    import base64

    body = {
        "client_id": str(uuid.uuid4()),
        "household": household.pk,
        "visited_at": timezone.now().isoformat(),
        "entered": True,
        "met_person": True,
        "explained": True,
        "signed": True,
        "fraud_types": list(FraudType.objects.values_list("pk", flat=True)[:1]),
        "signature": "data:image/png;base64," + base64.b64encode(PNG).decode(),
    }
    body.update(overrides)
    return body


def post(client, body):
    return client.post(API, data=json.dumps(body), content_type="application/json")


def jishan_sheet(places, title):
    village = places.jishan_village
    row = [
        1,
        places.jishan_town.name,
        village.short_name,
        "第1网格",
        "孙伟",
        "13712345670",
        f"{village.short_name}党支部",
    ]
    row += ["周平", "13612345670", f"{village.short_name}1号", 2, None]
    return responsibility_book({places.jishan_town.name: [row]}, title=title)


def longxing_sheet(title):
    row = [1, "龙兴镇", "周庄村", "第1网格", "张建国", "13912345678", "周庄村党支部", "李秀英", "13812345601"]
    row += ["周庄村1组1号", 3, None]
    return responsibility_book({"龙兴镇": [row]}, title=title)


def test_it_gives_one_answer_for_jishan_on_every_path(world, places, users, tmp_path, capsys):
    today = world.today
    # The phone: a 稷山 grid worker's visit, no campaign sent.
    household = factories.make_household(places.jishan_village, grid=places.jishan_grid)
    _, phone = grid_worker(places, places.jishan_grid, places.jishan)
    form = phone.get(f"/m/h/{household.pk}/visit/").content.decode()
    assert "本次走访记入 <b>全市</b>" in form
    response = post(phone, visit_body(household))
    assert response.status_code == 201, response.content
    assert Visit.objects.get().campaign == world.city

    # The city ranking: 全市, so 稷山's visit counts; the page names the campaign and the rule.
    client = Client()
    client.force_login(users.city)
    page = client.get(f"/dashboard/rank/county/?date={today:%Y-%m-%d}&metric=visit_rate").content.decode()
    assert "活动：<strong>全市</strong>" in page and "唯一覆盖全市的进行中活动" in page

    # The leaderboard command: the same campaign, and 稷山's visited household.
    call_command("leaderboard", "--date", f"{today:%Y-%m-%d}", "--metric", "入户率", "--json")
    rows = json.loads(capsys.readouterr().out)
    jishan = next(r for r in rows if r["name"] == "稷山县")
    assert {r["campaign"] for r in rows} == {"全市"}
    assert (jishan["visited"], jishan["value"]) == (1, "100.00%")

    # A bulletin issued today: the same campaign, frozen with it.
    bulletin = issue_bulletin(as_of=today, metric="visit_rate", user=users.city)
    assert bulletin.campaign == world.city
    assert bulletin.lines.get(name="稷山县").figures["visited"] == 1

    # A 稷山 sheet without a campaign in its title: the one running campaign of 稷山, not 明年.
    path = tmp_path / "稷山.xlsx"
    path.write_bytes(jishan_sheet(places, "稷山县党员包联入户责任分工表"))
    report = import_file("responsibility", path)
    assert report.written, report.errors
    assert Assignment.objects.get(household__county=places.jishan, household__head_name="周平").campaign == world.city


def test_it_names_the_default_and_offers_the_choice_where_two_run(world, places, users):
    client = Client()
    client.force_login(users.county)
    today = f"{world.today:%Y-%m-%d}"
    page = client.get(f"/dashboard/rank/town/{places.xinjiang.pk}/?date={today}").content.decode()
    assert "活动：<strong>全市</strong>" in page
    assert "有2个进行中的活动（“全市”、“新绛专项”），默认取覆盖全市的“全市”" in page
    assert f'<option value="{world.xinjiang_own.pk}">新绛专项' in page
    picked = client.get(f"/dashboard/rank/town/{places.xinjiang.pk}/?date={today}&campaign={world.xinjiang_own.pk}")
    assert "活动：<strong>新绛专项</strong>（按所选活动“新绛专项”统计）" in picked.content.decode()
    for url in (
        "/dashboard/chase/households/?",
        "/dashboard/chase/villages/?",
        f"/dashboard/trends/?county={places.xinjiang.pk}&",
    ):
        text = client.get(f"{url}date={today}").content.decode()
        assert "默认取覆盖全市的“全市”" in text and 'name="campaign"' in text, url
    bulletins = client.get("/dashboard/bulletins/").content.decode()
    assert "新绛县各乡镇（街道）：<strong>" in bulletins and 'name="campaign"' in bulletins

    # A bulletin signed for 新绛专项 keeps that campaign (a household gives 新绛's towns an 入户率).
    factories.make_household(places.zhouzhuang)
    rebuild_summaries()
    client.post(
        "/dashboard/bulletins/issue/",
        {"county": places.xinjiang.pk, "date": today, "metric": "visit_rate", "campaign": world.xinjiang_own.pk},
    )
    assert Bulletin.objects.get().campaign == world.xinjiang_own


def test_it_asks_the_phone_which_campaign_where_two_run(world, places, users):
    household = factories.make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    client = Client()
    client.force_login(users.grid)
    form = client.get(f"/m/h/{household.pk}/visit/").content.decode()
    assert '<select name="campaign" required>' in form and "新绛专项" in form and "明年" not in form
    refused = post(client, visit_body(household))
    assert refused.status_code == 400
    assert (
        "本县有2个进行中的活动（“全市”、“新绛专项”），请选择本次走访记入哪个活动"
        in refused.json()["errors"]["campaign"][0]
    )
    assert post(client, visit_body(household, campaign=world.xinjiang_own.pk)).status_code == 201
    assert Visit.objects.get().campaign == world.xinjiang_own
    # A campaign that does not cover the county is refused, whatever the phone sends.
    other = factories.make_campaign("稷山专项", start_date=world.today, end_date=world.today)
    other.counties.set([places.jishan])
    assert post(client, visit_body(household, campaign=other.pk)).status_code == 400


def test_it_records_a_visit_for_the_campaign_of_the_visitors_assignment(world, places):
    household = factories.make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    user = factories.make_user(Role.MEMBER, county=places.xinjiang)
    member = factories.make_member(places.zhouzhuang, user=user)
    factories.make_assignment(household, member, world.xinjiang_own)
    client = Client()
    client.force_login(user)
    assert "您在活动“新绛专项”中包联这一户" in client.get(f"/m/h/{household.pk}/visit/").content.decode()
    assert post(client, visit_body(household)).status_code == 201
    assert Visit.objects.get().campaign == world.xinjiang_own
    # Another member's assignment is not the visitor's: the county rule applies (and asks).
    stranger = factories.make_member(places.zhouzhuang)
    choice = visit_campaign(household, world.today, visitor_id=stranger.pk)
    assert choice.campaign is None and len(choice.candidates) == 2


def test_it_refuses_a_sheet_naming_no_campaign_where_two_run(world, places, tmp_path):
    path = tmp_path / "新绛.xlsx"
    path.write_bytes(longxing_sheet("新绛县党员包联入户责任分工表"))
    with pytest.raises(UploadRefused) as refused:
        import_file("responsibility", path)
    assert "新绛县有2个进行中的活动（“全市”、“新绛专项”），表格标题没有写明是哪一个" in str(refused.value)
    assert not Assignment.objects.exists()
    path.write_bytes(longxing_sheet("新绛县“新绛专项”党员包联入户责任分工表"))
    assert import_file("responsibility", path).written
    assert set(Assignment.objects.values_list("campaign__name", flat=True)) == {"新绛专项"}
    assert import_file("responsibility", path, campaign="全市").written


def test_it_never_defaults_to_a_campaign_not_started_or_ended(places, tmp_path):
    today = timezone.localdate()
    factories.make_campaign("明年", start_date=today + dt.timedelta(days=200), end_date=today + dt.timedelta(400))
    factories.make_campaign("去年", start_date=today - dt.timedelta(days=400), end_date=today - dt.timedelta(200))
    household = factories.make_household(places.jishan_village)
    assert visit_campaign(household, today).campaign is None
    choice = page_campaign(places.jishan, today)
    assert choice.campaign is None and "未开始或已结束的活动不作默认" in choice.reason
    assert [c.name for c in choice.options] == ["明年", "去年"]
    with pytest.raises(CampaignRefused, match="没有覆盖稷山县的进行中活动.*“明年”、“去年”"):
        import_campaign("稷山县责任分工表", places.jishan)
    assert import_campaign("稷山县“去年”责任分工表", places.jishan).name == "去年"


def test_it_takes_a_campaign_listing_every_county_as_city_wide(places):
    from outreach.places.models import County

    today = timezone.localdate()
    everywhere = factories.make_campaign("全市", start_date=today, end_date=today)
    everywhere.counties.set(County.objects.all())
    own = factories.make_campaign("新绛专项", start_date=today - dt.timedelta(days=5), end_date=today)
    own.counties.set([places.xinjiang])
    assert page_campaign(None, today).campaign == everywhere
    assert page_campaign(places.xinjiang, today).campaign == everywhere
    assert (
        page_campaign(places.jishan, today).reason
        == f"“全市”是{today.year}年{today.month}月{today.day}日唯一覆盖稷山县的进行中活动"
    )


# --- one snapshot of the campaign table (issue 13) ---------------------------------------------------------


def _campaign_reads(queries) -> int:
    return sum(1 for q in queries if 'FROM "campaigns_campaign"' in q["sql"])


def test_it_reads_the_campaign_table_once_per_request(world, places, users):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(users.city)
    today = f"{world.today:%Y-%m-%d}"
    # The bulletin list asks the rule for the city and for each county; the ranking for its page and default date.
    for url in ("/dashboard/bulletins/", f"/dashboard/rank/county/?date={today}", "/dashboard/rank/county/"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        assert _campaign_reads(captured.captured_queries) == 1, url


def test_it_answers_in_python_what_the_sql_filters_answer(world, places):
    from outreach.campaigns import rules
    from outreach.campaigns.models import Campaign
    from outreach.places.models import County

    snapshot = rules.one_snapshot
    with snapshot():
        for county in County.objects.all():
            in_sql = list(Campaign.objects.filter(rules.covers_county(county.pk)).order_by("-start_date", "-pk"))
            assert rules._snapshot()[0].covering(county.pk) == in_sql, county.name
        city_wide = list(Campaign.objects.filter(rules.covers_city()).order_by("-start_date", "-pk"))
        assert rules._snapshot()[0].covering(None) == city_wide == [world.city]


def test_it_sees_a_campaign_changed_in_the_same_request_or_outside_one(world, places, django_assert_num_queries):
    from outreach.campaigns.rules import one_snapshot, running_campaigns

    assert running_campaigns(places.jishan.pk) == [world.city]
    with one_snapshot():
        running_campaigns(places.jishan.pk)
        with django_assert_num_queries(0):
            assert running_campaigns(places.xinjiang.pk) == [world.city, world.xinjiang_own]
        world.xinjiang_own.counties.add(places.jishan)  # dropped: the next question reads the table again
        assert running_campaigns(places.jishan.pk) == [world.city, world.xinjiang_own]
        world.xinjiang_own.end_date = world.today - dt.timedelta(days=1)
        world.xinjiang_own.save()
        assert running_campaigns(places.jishan.pk) == [world.city]
    # Outside a request nothing is kept: every call reads the table.
    world.city.delete()
    assert running_campaigns(places.jishan.pk) == []


def test_it_asks_the_phone_rule_in_one_query_with_or_without_the_snapshot(world, places, django_assert_num_queries):
    from outreach.campaigns.rules import one_snapshot

    household = factories.make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    member = factories.make_member(places.zhouzhuang)
    factories.make_assignment(household, member, world.xinjiang_own)
    with django_assert_num_queries(1):
        choice = visit_campaign(household, world.today, visitor_id=member.pk)
    assert choice.campaign == world.xinjiang_own
    with one_snapshot():
        page_campaign(places.xinjiang, world.today)
        with django_assert_num_queries(1):  # only the visitor's assignments
            assert visit_campaign(household, world.today, visitor_id=member.pk).campaign == world.xinjiang_own
        with django_assert_num_queries(0):
            assert visit_campaign(household, world.today).campaign is None


def test_it_takes_the_snapshot_in_the_phones_household_read_and_answers_the_same(
    world, places, users, django_assert_num_queries
):
    # On PostgreSQL the visit POST's household lookup (mobile.queries.visit_target) carries the snapshot's
    # statement and the visitor's assignments in its round trip; visit_campaign then asks nothing, and answers
    # what it answers reading them itself. Elsewhere the lookup reads only the household.
    from django.db import connection

    from outreach.campaigns.rules import one_snapshot
    from outreach.mobile.queries import visit_target

    household = factories.make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    member = factories.make_member(places.zhouzhuang, user=users.grid)
    factories.make_assignment(household, member, world.xinjiang_own)
    alone = visit_campaign(household, world.today, visitor_id=member.pk)
    folded = connection.vendor == "postgresql"
    with one_snapshot():
        with django_assert_num_queries(1):
            target = visit_target(users.grid, household.pk, [])
        assert target.visitor_id == member.pk
        with django_assert_num_queries(0 if folded else 1):
            choice = visit_campaign(target, world.today, visitor_id=target.visitor_id)
        assert choice == alone and alone.campaign == world.xinjiang_own
        # The assignments were read for that one question: the next one asks again.
        with django_assert_num_queries(1):
            assert visit_campaign(target, world.today, visitor_id=member.pk).campaign == world.xinjiang_own
    unassigned = visit_campaign(household, world.today)
    elsewhere = factories.make_household(places.jishan_village)
    with one_snapshot():  # a household out of scope: the snapshot is still kept, nobody's assignments
        with django_assert_num_queries(1):
            assert visit_target(users.grid, elsewhere.pk, []) is None
        with django_assert_num_queries(0 if folded else 1):
            assert visit_campaign(household, world.today) == unassigned
