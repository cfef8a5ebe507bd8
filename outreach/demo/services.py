"""A believable, deterministic demo on the real places of 运城市 (run after load_divisions).

Everything is derived from a fixed random seed, so two machines get the same demo; a second run finds the
campaign and adds nothing.
"""

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from outreach.accounts.models import Role, User
from outreach.campaigns.models import Assignment, Campaign
from outreach.lib.signals import field_data_changed, registration_data_changed
from outreach.people.models import Household, PartyMember, PartyOrganization, Resident, Team
from outreach.places.models import County, GridArea, Town, Village, Zone
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import FraudType, Visit

CAMPAIGN_NAME = "十万党员进百万家"
CAMPAIGN_START = dt.date(2021, 7, 1)
CAMPAIGN_END = dt.date(2021, 12, 31)
LAST_VISIT_DAY = dt.date(2021, 8, 13)
VISIT_NAMESPACE = uuid.UUID("6f1c1a52-5b0e-4c36-9d64-3c1f0f2b8a10")

# 新绛县's bulletin as the newspaper printed it; every other figure of the demo is invented.
XINJIANG_CODE = "140825000000"
XINJIANG_REPORT = (dt.date(2021, 8, 13), 62113, 49213)
REPORT_DATES = [dt.date(2021, 8, d) for d in (5, 7, 9, 11, 13)]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马胡朱郭何罗高林梁宋郑谢韩唐冯董薛程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏任姚"
GIVEN = "建国军华明丽芳秀英桂兰玉梅红霞志强海燕春生小平俊杰文静宏伟晓东永红金凤国庆爱民淑珍德福天宇子涵梓轩"
STREETS = ["东街", "西街", "南街", "北街", "中街", "前巷", "后巷", "新村路", "学校路", "村委路"]

# The drive running now, so that what a newcomer records today shows in the rankings they open: it starts four
# weeks before the day the demo is seeded and runs two more months; the same members keep the same households.
CURRENT_NAME = "反诈宣传巩固提升行动"
CURRENT_WEEKS_BEHIND = 4
CURRENT_WEEKS_AHEAD = 9

# One login per role; the demo password is printed by seed_demo and changed on any real deployment.
DEMO_PASSWORD = "Fanzha-2021"


@dataclass
class DemoLogin:
    username: str
    role: str
    scope: str
    password: str = DEMO_PASSWORD


@dataclass
class DemoResult:
    created: bool
    logins: list[DemoLogin] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return rng.choice(["13", "15", "18", "17", "19"]) + str(rng.randint(0, 9)) + f"{rng.randint(0, 99999999):08d}"


def _demo_villages(rng: random.Random) -> list[Village]:
    """Every town of 新绛县 and 稷山县 with two villages each; one town with two villages elsewhere."""
    villages = []
    for county in County.objects.order_by("code"):
        towns = list(Town.objects.filter(county=county, code__regex=r"^\d{6}[0-3]").order_by("code"))
        if county.code not in (XINJIANG_CODE, "140824000000"):
            towns = towns[:1]
        for town in towns:
            candidates = list(Village.objects.filter(town=town, is_placeholder=False).order_by("code")[:2])
            villages.extend(candidates)
    return villages


def _reports(rng: random.Random) -> list[RegistrationReport]:
    reports = []
    for county in County.objects.order_by("code"):
        population = county.population or 200000
        base = rng.uniform(0.09, 0.17)
        for step, day in enumerate(REPORT_DATES):
            if county.code == XINJIANG_CODE:
                registered = round(XINJIANG_REPORT[1] * (0.9 + 0.025 * step))
                verified = round(registered * 0.79)
                if day == XINJIANG_REPORT[0]:
                    registered, verified = XINJIANG_REPORT[1], XINJIANG_REPORT[2]
            else:
                registered = round(population * (base + 0.006 * step + rng.uniform(-0.004, 0.004)))
                verified = round(registered * rng.uniform(0.7, 0.85))
            reports.append(
                RegistrationReport(
                    county=county, as_of=day, registered=registered, verified=verified, source="演示数据"
                )
            )
    return reports


def _ensure_logins(county, town, grid, member) -> list[DemoLogin]:
    # Each login is a person: lists and the phone pages show "张立军", not "demo_grid".
    specs = [
        ("demo_city", Role.CITY, "运城市", "刘建华", {}),
        ("demo_county", Role.COUNTY, county.name, "王晓东", {"county": county}),
        ("demo_town", Role.TOWN, f"{county.name}{town.name}", "陈丽", {"county": county, "town": town}),
        ("demo_grid", Role.GRID, f"{grid.village.name}{grid.name}", "张立军", {"county": county, "town": town}),
        ("demo_member", Role.MEMBER, f"党员{member.name}的包联户", member.name, {"county": county, "town": town}),
    ]
    logins = []
    for username, role, scope, person, area in specs:
        user, _ = User.objects.get_or_create(username=username)
        user.role = role
        user.is_staff = True
        user.is_superuser = False
        user.county = area.get("county")
        user.town = area.get("town")
        user.last_name, user.first_name = person, ""
        user.set_password(DEMO_PASSWORD)
        user.save()
        if role == Role.GRID:
            user.grids.set([grid])
        if role == Role.MEMBER and member.user_id != user.pk:
            member.user = user
            member.save(update_fields=["user"])
        logins.append(DemoLogin(username, role.label, scope))
    return logins


@transaction.atomic
def seed_demo(seed: int = 20210813) -> DemoResult:
    if not County.objects.exists():
        raise RuntimeError("还没有载入行政区划，请先运行 python manage.py load_divisions")
    rng = random.Random(seed)
    campaign, created = Campaign.objects.get_or_create(
        name=CAMPAIGN_NAME,
        defaults={"start_date": CAMPAIGN_START, "end_date": CAMPAIGN_END, "target_registration_rate": 25},
    )
    if created:
        campaign.counties.set(County.objects.all())
        village_ids = _build_people_and_visits(rng, campaign)
        reports = RegistrationReport.objects.bulk_create(_reports(rng))
        transaction.on_commit(lambda: field_data_changed.send(sender=Campaign, village_ids=village_ids))
        transaction.on_commit(
            lambda: registration_data_changed.send(
                sender=RegistrationReport,
                county_ids={r.county_id for r in reports},
                dates={r.as_of for r in reports},
            )
        )
    current, current_created = _current_campaign(campaign)
    xinjiang = County.objects.get(code=XINJIANG_CODE)
    town = Town.objects.get(code="140825100000")
    grid = GridArea.objects.filter(village__town=town).order_by("village__code", "name").first()
    member = PartyMember.objects.filter(organization__village=grid.village).order_by("id").first()
    result = DemoResult(created=created or current_created, logins=_ensure_logins(xinjiang, town, grid, member))
    if created:
        _demo_checks(campaign, grid)
    result.counts = {
        "党组织": PartyOrganization.objects.count(),
        "党员": PartyMember.objects.count(),
        "小分队": Team.objects.count(),
        "住户": Household.objects.count(),
        "包联关系": Assignment.objects.count(),
        "走访记录": Visit.objects.count(),
        "通报数据": RegistrationReport.objects.count(),
    }
    return result


def _current_campaign(history: Campaign) -> tuple[Campaign, bool]:
    """The drive running today beside 2021's (kept as history with its exact figures): the same households and
    members, visits over its first four weeks and App figures every week up to today."""
    today = timezone.localdate()
    start = today - dt.timedelta(weeks=CURRENT_WEEKS_BEHIND)
    current, created = Campaign.objects.get_or_create(
        name=CURRENT_NAME,
        defaults={
            "start_date": start,
            "end_date": today + dt.timedelta(weeks=CURRENT_WEEKS_AHEAD),
            "target_registration_rate": 35,
        },
    )
    if not created:
        return current, False
    current.counties.set(County.objects.all())
    rng = random.Random(f"{CURRENT_NAME}-{start.isoformat()}")
    pairs = list(history.assignments.order_by("household_id").values_list("household_id", "member_id"))
    Assignment.objects.bulk_create([Assignment(campaign=current, household_id=h, member_id=m) for h, m in pairs])
    fraud_types = list(FraudType.objects.filter(is_active=True))
    tz = timezone.get_default_timezone()
    households = Household.objects.in_bulk([h for h, _ in pairs])
    visits, explained = [], []
    for household_id, member_id in pairs:
        if rng.random() > 0.45:
            continue
        household = households[household_id]
        day = start + dt.timedelta(days=rng.randint(0, (today - start).days - 1))
        scripts = rng.sample(fraud_types, rng.randint(1, 3))
        installed = rng.randint(0, min(household.size, 2))
        visit = Visit(
            client_id=uuid.uuid5(VISIT_NAMESPACE, f"current-{household_id}"),
            campaign=current,
            household=household,
            visitor_id=member_id,
            visited_at=dt.datetime.combine(day, dt.time(rng.randint(9, 18), rng.randint(0, 59)), tzinfo=tz),
            entered=True,
            met_person=True,
            explained=True,
            signed=rng.random() < 0.9,
            left_brochure=True,
            app_installed=installed,
            app_registered=installed,
        )
        visit.fill_places()
        visit.is_qualified = visit.qualifies(len(scripts))
        visits.append(visit)
        explained.append(scripts)
    _store_visits(visits, explained)
    # The App figures each week of the drive, the last one today (the morning's bulletin): grown from 2021's.
    days = [today - dt.timedelta(weeks=w) for w in range(CURRENT_WEEKS_BEHIND - 1, -1, -1)]
    last_2021 = {r.county_id: r for r in RegistrationReport.objects.filter(as_of=REPORT_DATES[-1], town=None)}
    reports = []
    for county in County.objects.order_by("code"):
        before = last_2021.get(county.pk)
        base = before.registered if before else round((county.population or 200000) * 0.12)
        growth = rng.uniform(1.45, 1.85)
        for step, day in enumerate(days, start=1):
            registered = round(base * (growth + 0.04 * step))
            reports.append(
                RegistrationReport(
                    county=county,
                    as_of=day,
                    registered=registered,
                    verified=round(registered * rng.uniform(0.78, 0.88)),
                    source="演示数据",
                )
            )
    RegistrationReport.objects.bulk_create(reports)
    village_ids = {v.village_id for v in visits}
    village_ids.add(_demo_moved_household(current, today))
    transaction.on_commit(lambda: field_data_changed.send(sender=Campaign, village_ids=village_ids))
    return current, True


def _demo_moved_household(current: Campaign, today: dt.date) -> int:
    """One household moved away a week ago and recorded today: a roster correction, so the drive's rankings of
    the last week say their figures changed (README, 数字“截至某日”). 2021's figures stay as they were."""
    from outreach.people.services import end_household

    visited = Visit.objects.filter(campaign=current).values("household_id")
    household = Household.objects.exclude(pk__in=visited).order_by("-pk").first()
    end_household(
        household,
        day=today - dt.timedelta(days=7),
        reason="moved",
        note="迁往运城市盐湖区",
        why="网格员报告该户上周已迁走，今天补录",
    )
    return household.village_id


def _demo_checks(campaign: Campaign, grid: GridArea) -> None:
    """A late-evening round by demo_grid, logged through the phone service: flagged as rapid and at night,
    then a call-back sample for demo_county (see docs/mobile.md)."""
    from outreach.mobile.services import draw_callback_sample, scan_visits
    from outreach.visits.services import record_visit

    worker = User.objects.get(username="demo_grid")
    script = FraudType.objects.filter(is_active=True).order_by("sort_order", "id").first()
    start = dt.datetime.combine(LAST_VISIT_DAY, dt.time(21, 50), tzinfo=timezone.get_default_timezone())
    ids = []
    for n, household in enumerate(Household.objects.filter(grid=grid).order_by("id")[:6]):
        visit, _ = record_visit(
            client_id=uuid.uuid5(VISIT_NAMESPACE, f"demo-check-{n}"),
            household=household,
            campaign=campaign,
            visited_at=start + dt.timedelta(minutes=2 * n),
            fraud_types=[script],
            recorded_by=worker,
            entered=True,
            met_person=True,
            explained=True,
        )
        ids.append(visit.pk)
    scan_visits(visits=Visit.objects.filter(pk__in=ids))
    draw_callback_sample(User.objects.get(username="demo_county"), per_worker=3)


def _build_people_and_visits(rng: random.Random, campaign: Campaign) -> set[int]:
    villages = _demo_villages(rng)
    fraud_types = list(FraudType.objects.filter(is_active=True))
    tz = timezone.get_default_timezone()
    members_by_county: dict[int, list[PartyMember]] = {}
    households: list[tuple[Household, PartyMember]] = []
    for village in villages:
        org, _ = PartyOrganization.objects.get_or_create(
            county_id=village.county_id,
            name=f"{village.short_name}党支部",
            defaults={"town_id": village.town_id, "village": village, "kind": PartyOrganization.Kind.BRANCH},
        )
        grids = [GridArea.objects.get_or_create(village=village, name=f"第{i}网格")[0] for i in (1, 2)]
        members = [
            PartyMember.objects.create(
                name=_name(rng),
                phone=_phone(rng),
                organization=org,
                county_id=village.county_id,
                joined_on=campaign.start_date,
            )
            for _ in range(3)
        ]
        members_by_county.setdefault(village.county_id, []).extend(members)
        batch = []
        for i in range(rng.randint(24, 36)):
            size = rng.choice((1, 2, 3, 3, 4, 4, 5, 6))
            head = _name(rng)
            household = Household(
                head_name=head,
                phone="" if rng.random() < 0.08 else _phone(rng),
                address=f"{village.short_name}{rng.choice(STREETS)}{i + 1}号",
                size=size,
                village=village,
                town_id=village.town_id,
                county_id=village.county_id,
                grid=grids[i % 2],
                elderly_alone=size == 1 and rng.random() < 0.7,
                left_behind=rng.random() < 0.08,
                student_family=rng.random() < 0.15,
                no_smartphone=rng.random() < 0.06,
                # The roster the 2021 drive began with: every later ranking counts these households.
                roster_start=campaign.start_date,
            )
            batch.append(household)
        Household.objects.bulk_create(batch)
        households.extend((h, members[i % len(members)]) for i, h in enumerate(batch))
        Resident.objects.bulk_create(
            [Resident(household=h, name=h.head_name, phone=h.phone, is_head=True) for h in batch]
        )
    # An agency branch not tied to a village, as counties have (县农机发展中心党支部).
    for county_id, members in members_by_county.items():
        agency, _ = PartyOrganization.objects.get_or_create(
            county_id=county_id, name="县农机发展中心党支部", defaults={"kind": PartyOrganization.Kind.BRANCH}
        )
        team = Team.objects.create(county_id=county_id, name="第一宣传小分队", leader=members[0])
        team.members.set(members[:6])
        PartyMember.objects.create(
            name=_name(rng), phone=_phone(rng), organization=agency, county_id=county_id, joined_on=campaign.start_date
        )
    xinjiang = County.objects.get(code=XINJIANG_CODE)
    for number, towns in enumerate(
        [list(Town.objects.filter(county=xinjiang).order_by("code")[i : i + 3]) for i in (0, 3, 6)], start=1
    ):
        zone, _ = Zone.objects.get_or_create(county=xinjiang, name=f"第{number}作战宣传片区")
        zone.towns.set(towns)

    Assignment.objects.bulk_create([Assignment(campaign=campaign, household=h, member=m) for h, m in households])
    visits, explained = [], []
    days = (LAST_VISIT_DAY - dt.date(2021, 7, 15)).days
    for household, member in households:
        for n in range(rng.choice((0, 0, 1, 1, 1, 2))):
            day = dt.date(2021, 7, 15) + dt.timedelta(days=rng.randint(0, days))
            at = dt.datetime.combine(day, dt.time(rng.randint(8, 19), rng.randint(0, 59)), tzinfo=tz)
            met = rng.random() < 0.92
            signed = met and rng.random() < 0.85
            scripts = rng.sample(fraud_types, rng.randint(0 if rng.random() < 0.1 else 1, 4))
            installed = rng.randint(0, min(household.size, 3))
            registered = rng.randint(0, installed)
            verified = rng.randint(0, registered)
            visit = Visit(
                client_id=uuid.uuid5(VISIT_NAMESPACE, f"{household.pk}-{n}"),
                campaign=campaign,
                household=household,
                visitor=member,
                visited_at=at,
                entered=True,
                met_person=met,
                explained=bool(scripts),
                signed=signed,
                left_brochure=True,
                left_letter=rng.random() < 0.7,
                left_pledge=signed,
                app_installed=installed,
                app_registered=registered,
                app_verified=verified,
                alerts_enabled=rng.randint(0, verified),
            )
            visit.fill_places()
            visit.is_qualified = visit.qualifies(len(scripts))
            visits.append(visit)
            explained.append(scripts)
    _store_visits(visits, explained)
    return {village.pk for village in villages}


def _store_visits(visits: list[Visit], explained: list[list[FraudType]]) -> None:
    """Bulk-insert the demo's visits and the scripts explained at each (no signals: the caller marks villages)."""
    Visit.objects.bulk_create(visits, batch_size=500)
    Through = Visit.fraud_types.through
    Through.objects.bulk_create(
        [
            Through(visit_id=v.pk, fraudtype_id=f.pk)
            for v, scripts in zip(visits, explained, strict=True)
            for f in scripts
        ],
        batch_size=1000,
    )
