"""A small world for scope tests: one household (with residents, an assignment and a visit) in each of
周庄村第1网格, 周庄村第2网格, 三泉镇 and 稷山县, so every user of ``users`` has records inside and outside.

What each user of ``tests/conftest.py`` may see of it:
- city: everything; county (新绛县): grid1, grid2, sanquan; other_county (稷山县): jishan;
- town (龙兴镇): grid1, grid2; other_town (三泉镇): sanquan;
- grid (第1网格): grid1; other_grid (第2网格): grid2; member: grid1 (assigned to them).
Each visit carries an integrity flag and a call-back check (seen by county and town staff only), and each
household a roster correction (its 列入花名册日期 moved back a day, seen by staff of its area).
督办单: one for 龙兴镇 (seen by city, county and town), one for 三泉镇 and one for 稷山县, each with its first step.
"""

import datetime as dt
from types import SimpleNamespace

from outreach.accounts.models import Role
from outreach.mobile.models import CallbackCheck, IntegrityFlag
from outreach.notify.models import PushAttempt, PushMessage, WorkGroupRobot
from outreach.people.models import Resident, Team
from outreach.people.services import DateChange, roster_corrections
from outreach.places.models import Zone
from outreach.registrations.models import RegistrationReport
from tests.factories import (
    make_assignment,
    make_campaign,
    make_grid,
    make_household,
    make_member,
    make_org,
    make_user,
    make_visit,
)

PHONES = {"grid1": "13800000001", "grid2": "13800000002", "sanquan": "13800000003", "jishan": "13800000004"}


def build_world(places, users):
    campaign = make_campaign()
    member_zz = make_member(places.zhouzhuang, name="周庄党员", user=users.member, phone="13900000001")
    member_sq = make_member(places.sanquan_village, name="三泉党员", phone="13900000003")
    member_js = make_member(places.jishan_village, name="稷山党员", phone="13900000004")
    households = {
        "grid1": make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="一网格户"),
        "grid2": make_household(places.zhouzhuang, grid=places.zhouzhuang_grid2, head_name="二网格户"),
        "sanquan": make_household(
            places.sanquan_village, grid=make_grid(places.sanquan_village, "第1网格"), head_name="三泉户"
        ),
        "jishan": make_household(places.jishan_village, grid=places.jishan_grid, head_name="稷山户"),
    }
    for key, household in households.items():
        household.phone = PHONES[key]
        household.save()
        Resident.objects.create(household=household, name=f"{household.head_name}成员", phone=PHONES[key])
        earlier = household.roster_start - dt.timedelta(days=1)
        change = DateChange(household, "roster_start", household.roster_start, earlier)
        household.roster_start = earlier
        household.save()
        roster_corrections([change], user=users.county, reason="核实列入日期")
    make_assignment(households["grid1"], member_zz, campaign)
    make_assignment(households["grid2"], make_member(places.zhouzhuang, name="周庄党员二"), campaign)
    make_assignment(households["sanquan"], member_sq, campaign)
    make_assignment(households["jishan"], member_js, campaign)
    for household in households.values():
        visit = make_visit(household, campaign=campaign, recorded_by=users.grid)
        # Checks on visits (outreach.mobile): one flag and one call-back per area.
        IntegrityFlag.objects.create(visit=visit, kind=IntegrityFlag.Kind.NIGHT, detail="走访时间23:00")
        CallbackCheck.objects.create(visit=visit, worker=users.grid)
    # An account for the 稷山 county admin to manage (users below the county level in 稷山县).
    make_user(Role.MEMBER, username="member_jishan", county=places.jishan)
    reports = [(places.xinjiang, None), (places.xinjiang, places.longxing), (places.xinjiang, places.sanquan)]
    for county, town in [*reports, (places.jishan, None), (places.jishan, places.jishan_town)]:
        RegistrationReport.objects.create(
            county=county, town=town, as_of=dt.date(2021, 8, 13), registered=100, verified=80
        )
    zone = Zone.objects.create(county=places.xinjiang, name="第一片区")
    zone.towns.set([places.longxing])
    Zone.objects.create(county=places.xinjiang, name="第二片区").towns.set([places.sanquan])
    Zone.objects.create(county=places.jishan, name="稷山片区").towns.set([places.jishan_town])
    Team.objects.create(county=places.xinjiang, name="新绛小分队", leader=member_zz)
    Team.objects.create(county=places.jishan, name="稷山小分队", leader=member_js)
    make_org(places.sanquan_village)
    from outreach.dashboards.supervision import open_order

    for place in (places.longxing, places.sanquan, places.jishan):
        open_order(code=place.code, reason="manual", reason_text=f"{place.name}排名末位")
    # Work-group robots of the city and of both counties, each with a message and its first attempt.
    for county, name in [(None, "市级群"), (places.xinjiang, "新绛县群"), (places.jishan, "稷山县群")]:
        robot = WorkGroupRobot.objects.create(
            name=name, kind="wecom", county=county, webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
        )
        message = PushMessage.objects.create(robot=robot, topic="test", title=f"{name}测试", text="测试")
        PushAttempt.objects.create(message=message, number=1, error="连接失败")
    return SimpleNamespace(campaign=campaign, households=households, members=[member_zz, member_sq, member_js])
