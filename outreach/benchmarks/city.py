"""A city-scale dataset on the real places of 运城市, built fast and the same on every machine.

Households are spread over the real (non-placeholder) villages in proportion to each county's 常住人口;
every household has a grid and an assignment to a party member of its village's 党支部 in the campaign
"十万党员进百万家"; visits carry the household's places and ``is_qualified`` as ``record_visit`` would store
them; registration reports cover every day of the campaign's first ``report_days`` days for each county and
town. All of it comes from one seeded random generator.

Rows go in with PostgreSQL ``COPY`` (psycopg 3 ``cursor.copy``) or, on SQLite, batched ``executemany``
inserts of the same rows: the ORM's per-object cost would dominate at millions of rows. Ids are given
explicitly, sequences are reset afterwards, and the tables are analysed so the benchmark measures the query
plans production would get.
"""

import datetime as dt
import math
import random
import time
import uuid
from array import array
from collections import namedtuple
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction
from django.db.models import Max, Model
from django.utils import timezone

from outreach.benchmarks.models import CityBuild
from outreach.campaigns.models import Assignment, Campaign
from outreach.lib.signals import field_data_changed, registration_data_changed
from outreach.people.models import Household, PartyMember, PartyOrganization, Resident, Team
from outreach.places.models import County, GridArea, Town, Village
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import FraudType, QualifyingRule, Visit, VisitorLastVisit
from outreach.visits.services import rebuild_last_visits

# A generated visit's four ticks, as QualifyingRule.allows reads them from a Visit.
_Ticks = namedtuple("_Ticks", "entered met_person explained signed")

CAMPAIGN_NAME = "十万党员进百万家"
CAMPAIGN_START = dt.date(2021, 7, 1)
CAMPAIGN_END = dt.date(2021, 12, 31)
DEFAULT_SEED = 20210813
HOUSEHOLDS_PER_VILLAGE = 400  # below 1,000,000 / 2,386 real villages, so the full city uses them all
HOUSEHOLDS_PER_GRID = 65  # "tens of thousands of grids" in a city of a million households
# 垣曲县 has no sourced census figure; the city total minus the other counties gives this.
FALLBACK_POPULATION = 197_772
SOURCE = "基准测试数据"
PROTECTED_DATABASES = {"test", "postgres"}  # CI's shared database and the server's own

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马胡朱郭何罗高林梁宋郑谢韩唐冯董薛程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏任姚卫柴"
GIVEN = "建国军华明丽芳秀英桂兰玉梅红霞志强海燕春生小平俊杰文静宏伟晓东永红金凤国庆爱民淑珍德福天宇子涵梓轩"
STREETS = ("东街", "西街", "南街", "北街", "中街", "前巷", "后巷", "新村路", "学校路", "村委路")
PHONE_PREFIXES = ("138", "139", "135", "136", "137", "150", "151", "152", "158", "159", "182", "187", "177", "199")
# i -> (i * PHONE_STEP + PHONE_OFFSET) mod 10^8 is a bijection, so every generated number is different.
PHONE_STEP, PHONE_OFFSET = 48_271_009, 13_579_246
STEP_LABELS = {
    "grids": "网格",
    "party_organizations": "党组织",
    "party_members": "党员",
    "households": "住户",
    "assignments": "包联关系",
    "visits": "走访记录",
    "visit_fraud_types": "走访讲解的诈骗类型",
    "last_visits": "党员最近走访",
    "registration_reports": "App注册通报（县、乡镇逐日）",
    "wipe": "清空旧数据",
    "commit": "提交",
    "analyze": "ANALYZE",
}
SIZES = (1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 6)


@dataclass(frozen=True)
class CityPlan:
    """How big a city to build; members and visits default to a tenth and three times the households."""

    households: int = 1_000_000
    members: int | None = None
    visits: int | None = None
    report_days: int = 90
    seed: int = DEFAULT_SEED

    @property
    def member_count(self) -> int:
        return self.members if self.members is not None else max(1, self.households // 10)

    @property
    def visit_count(self) -> int:
        return self.visits if self.visits is not None else self.households * 3


@dataclass
class BuildResult:
    build: CityBuild
    created: bool
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


class CityExists(Exception):
    """The database holds data this command did not build, or a different build (needs --reset)."""


# Tables the build writes, children first (the order a plain DELETE needs).
BUILT_MODELS = [
    VisitorLastVisit,
    Visit.fraud_types.through,
    Visit,
    Assignment,
    Resident,
    Team.members.through,
    Team,
    Household,
    PartyMember,
    PartyOrganization,
    RegistrationReport,
]


def _user_grids_model():
    from outreach.accounts.models import User

    return User.grids.through


def existing_build(plan: CityPlan) -> CityBuild | None:
    """The finished build of exactly this plan, if the database holds one."""
    return (
        CityBuild.objects.filter(
            seed=plan.seed,
            households=plan.households,
            members=plan.member_count,
            visits=plan.visit_count,
            report_days=plan.report_days,
            finished_at__isnull=False,
        )
        .order_by("-started_at")
        .first()
    )


def build_city(plan: CityPlan, *, reset: bool = False, log: Callable[[str], None] = lambda message: None):
    """Build the dataset of ``plan``, or return the finished build already there.

    Refuses (``CityExists``) when the tables hold rows no build made (a real or demo database: use a
    separate one), and when another build is there unless ``reset`` is given.
    """
    if connection.settings_dict["NAME"] in PROTECTED_DATABASES:
        raise CityExists("不要在共用的 test 数据库上生成基准数据：请用单独的库，如 bench_city。")
    if not Village.objects.filter(is_placeholder=False).exists():
        raise RuntimeError("还没有载入行政区划，请先运行 python manage.py load_divisions")
    found = existing_build(plan)
    if found is not None and not reset:
        return BuildResult(build=found, created=False, counts=found.counts, seconds=found.seconds or 0.0)
    has_rows = any(model.objects.exists() for model in (Household, PartyMember, Visit, RegistrationReport))
    if has_rows and not CityBuild.objects.exists():
        raise CityExists(
            "数据库中已有不是基准测试生成的业务数据（住户、党员、走访或通报）。基准数据请放在单独的数据库里，"
            "例如 createdb -h 127.0.0.1 -U postgres bench_city，再用 DATABASE_URL 指向它。"
        )
    if has_rows and not reset:
        raise CityExists("数据库中已有另一套基准数据（规模或种子不同）；加 --reset 清空后重建。")
    started = time.perf_counter()
    steps = {}
    if has_rows:
        log("清空上一套基准数据……")
        _wipe()
        steps["wipe"] = round(time.perf_counter() - started, 2)
    CityBuild.objects.filter(finished_at__isnull=True).delete()  # builds that died rolled their rows back
    build = CityBuild.objects.create(
        seed=plan.seed,
        households=plan.households,
        members=plan.member_count,
        visits=plan.visit_count,
        report_days=plan.report_days,
        database=connection.vendor,
    )
    builder = _Builder(plan, log)
    builder.steps.update(steps)
    with transaction.atomic():
        _skip_foreign_key_triggers()
        builder.run()
        village_ids = set(builder.village_ids)
        county_ids = {c.pk for c in builder.counties}
        dates = {builder.day(i) for i in range(plan.report_days)}
        transaction.on_commit(lambda: field_data_changed.send(sender=CityBuild, village_ids=village_ids))
        transaction.on_commit(
            lambda: registration_data_changed.send(sender=CityBuild, county_ids=county_ids, dates=dates)
        )
        step = time.perf_counter()
    builder.steps["commit"] = round(time.perf_counter() - step, 2)
    step = time.perf_counter()
    _analyze()
    builder.steps["analyze"] = round(time.perf_counter() - step, 2)
    build.counts = builder.counts
    build.seconds = round(time.perf_counter() - started, 2)
    build.finished_at = timezone.now()
    build.save(update_fields=["counts", "seconds", "finished_at"])
    return BuildResult(build=build, created=True, counts=builder.counts, seconds=build.seconds, steps=builder.steps)


def _wipe():
    models = [*BUILT_MODELS, _user_grids_model(), GridArea]
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
        with connection.cursor() as cursor:
            # Deferred foreign key checks still queued in this transaction would make TRUNCATE refuse.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # CASCADE also empties what is derived from these rows (summary tables): the build refreshes them.
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    else:
        with transaction.atomic():
            for model in models:
                model._base_manager.all().delete()
    CityBuild.objects.all().delete()


def _skip_foreign_key_triggers():
    """On PostgreSQL, skip the per-row foreign key checks for this transaction when allowed (superuser).

    Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: every COPY'd row queues one check per foreign
    key, run at commit (11 s of a 19 s build at 100,000 households). The rows are consistent by
    construction, and the tests check it.
    """
    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        pass  # not a superuser: the checks run at commit, slower but the same result


def _analyze():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The places too: load_divisions writes them without statistics, and with autovacuum off (as on this
            # machine's cluster) the planner would take 2,395 villages for a few hundred. VACUUM as well where
            # possible (outside a transaction): a production database's autovacuum would have marked the pages
            # all-visible, without which no index-only scan skips the heap (the idle members' 19,209 last-visit
            # probes: 87 ms before a VACUUM, 66 ms after).
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
            for model in [*BUILT_MODELS, GridArea, County, Town, Village]:
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
        elif connection.vendor == "sqlite":
            cursor.execute("ANALYZE")


def _next_id(model: type[Model]) -> int:
    return (model._base_manager.aggregate(m=Max("pk"))["m"] or 0) + 1


class _Writer:
    """Writes rows of one table: COPY on PostgreSQL, executemany in batches elsewhere."""

    BATCH = 5000

    def __init__(self, stamp: dt.datetime):
        self.postgres = connection.vendor == "postgresql"
        self.stamp = stamp

    def _other_fields(self, model: type[Model], fields: list[str]) -> tuple[list[str], tuple]:
        """Columns the generator does not fill (added by later migrations) and the value each gets:
        the field's default, or the build's timestamp for auto_now fields."""
        given = {model._meta.get_field(name).column for name in fields}
        columns, values = [], []
        for f in model._meta.concrete_fields:
            if f.column in given or f.primary_key:
                continue
            columns.append(f.column)
            values.append(
                self.stamp if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
            )
        return columns, tuple(values)

    def write(self, model: type[Model], fields: list[str], rows: Iterable[tuple]) -> int:
        opts = model._meta
        extra_columns, extra = self._other_fields(model, fields)
        if extra_columns:
            rows = (row + extra for row in rows)
        columns = [opts.get_field(name).column for name in fields] + extra_columns
        table = connection.ops.quote_name(opts.db_table)
        column_sql = ", ".join(connection.ops.quote_name(c) for c in columns)
        written = 0
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        written += 1
                return written
            sql = f"INSERT INTO {table} ({column_sql}) VALUES ({', '.join(['%s'] * len(columns))})"
            batch = []
            for row in rows:
                batch.append(tuple(map(self._adapt, row)))
                if len(batch) >= self.BATCH:
                    cursor.executemany(sql, batch)
                    written += len(batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                written += len(batch)
        return written

    @staticmethod
    def _adapt(value):
        if isinstance(value, dt.datetime):
            return connection.ops.adapt_datetimefield_value(value)
        if isinstance(value, dt.date):
            return connection.ops.adapt_datefield_value(value)
        if isinstance(value, uuid.UUID):
            return value.hex
        return value

    def reset_sequences(self, models):
        statements = connection.ops.sequence_reset_sql(no_style(), models)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)


class _Builder:
    def __init__(self, plan: CityPlan, log):
        self.plan = plan
        self.log = log
        self.rng = random.Random(plan.seed)
        self.tz = timezone.get_default_timezone()
        self.counts: dict[str, int] = {}
        self.steps: dict[str, float] = {}
        self.stamp = dt.datetime.combine(CAMPAIGN_START, dt.time(9, 0), tzinfo=self.tz)
        self.writer = _Writer(self.stamp)

    def day(self, index: int) -> dt.date:
        return CAMPAIGN_START + dt.timedelta(days=index)

    def _step(self, name: str, model: type[Model], fields: list[str], rows: Iterable[tuple]):
        started = time.perf_counter()
        written = self.writer.write(model, fields, rows)
        self.steps[name] = round(time.perf_counter() - started, 2)
        self.counts[name] = self.counts.get(name, 0) + written
        self.log(f"  {STEP_LABELS[name]} {written:,} 行，{self.steps[name]:.1f} 秒")

    def run(self):
        self.campaign, _ = Campaign.objects.get_or_create(
            name=CAMPAIGN_NAME,
            defaults={"start_date": CAMPAIGN_START, "end_date": CAMPAIGN_END, "target_registration_rate": 25},
        )
        self.counties = list(County.objects.order_by("code"))
        self.campaign.counties.set(self.counties)
        self.fraud_type_ids = list(FraudType.objects.filter(is_active=True).values_list("pk", flat=True)[:16])
        if not self.fraud_type_ids:
            raise RuntimeError("没有启用的诈骗类型（visits 迁移应已写入常见类型）")
        self._plan_places()
        self._grids()
        self._organizations_and_members()
        self._households_and_assignments()
        self._visits()
        self._reports()
        self.writer.reset_sequences([GridArea, PartyOrganization, PartyMember, Household, Assignment, Visit])
        self.writer.reset_sequences([Visit.fraud_types.through, RegistrationReport])

    # -- places -----------------------------------------------------------------------------------------

    def _plan_places(self):
        """Pick the villages (all of them at full scale) and how many households and members each gets."""
        plan, rng = self.plan, self.rng
        by_county: dict[int, list[Village]] = {}
        for village in Village.objects.filter(is_placeholder=False).select_related("town").order_by("code"):
            by_county.setdefault(village.county_id, []).append(village)
        # Interleave counties so that a small city still spans several of them.
        interleaved, depth = [], 0
        while len(interleaved) < sum(map(len, by_county.values())):
            for county in self.counties:
                villages = by_county.get(county.pk, [])
                if depth < len(villages):
                    interleaved.append(villages[depth])
            depth += 1
        wanted = min(
            len(interleaved), max(min(13, len(interleaved)), math.ceil(plan.households / HOUSEHOLDS_PER_VILLAGE))
        )
        villages = sorted(interleaved[:wanted], key=lambda v: v.code)
        if plan.member_count < len(villages):
            raise ValueError(f"党员数（{plan.member_count}）不能少于用到的村（社区）数（{len(villages)}）")
        population = {c.pk: c.population or FALLBACK_POPULATION for c in self.counties}
        used_in_county: dict[int, int] = {}
        for village in villages:
            used_in_county[village.county_id] = used_in_county.get(village.county_id, 0) + 1
        weights = [population[v.county_id] / used_in_county[v.county_id] * rng.uniform(0.5, 1.5) for v in villages]
        self.villages = villages
        self.village_ids = [v.pk for v in villages]
        self.village_households = _apportion(plan.households, weights, minimum=0)
        self.village_members = _apportion(plan.member_count, self.village_households, minimum=1)

    def _grids(self):
        first = _next_id(GridArea)
        self.village_grids: list[range] = []
        next_id = first

        taken = set(GridArea.objects.filter(village__in=self.village_ids).values_list("village_id", "name"))

        def rows():
            nonlocal next_id
            for village, households in zip(self.villages, self.village_households, strict=True):
                count = max(1, round(households / HOUSEHOLDS_PER_GRID))
                self.village_grids.append(range(next_id, next_id + count))
                number = 0
                for _ in range(count):
                    number += 1
                    while (village.pk, f"第{number}网格") in taken:  # grids someone made by hand stay theirs
                        number += 1
                    yield (next_id, village.pk, f"第{number}网格", self.stamp)
                    next_id += 1

        self._step("grids", GridArea, ["id", "village", "name", "created_at"], rows())

    def _organizations_and_members(self):
        rng = self.rng
        org_id = _next_id(PartyOrganization)
        self.village_org: list[int] = []
        used: dict[int, set[str]] = {}
        orgs = []
        for village in self.villages:
            names = used.setdefault(village.county_id, set())
            name = f"{village.short_name}党支部"
            if name in names:  # two villages of one county share a short name
                name = f"{village.town.name}{village.short_name}党支部"
            names.add(name)
            orgs.append(
                (org_id, name, PartyOrganization.Kind.BRANCH.value, village.county_id, village.town_id, village.pk)
            )
            self.village_org.append(org_id)
            org_id += 1
        self._step(
            "party_organizations", PartyOrganization, ["id", "name", "kind", "county", "town", "village"], iter(orgs)
        )

        member_id = _next_id(PartyMember)
        self.village_member_ids: list[range] = []
        phone_index = self.plan.households  # members' numbers follow the households' in the same sequence

        def rows():
            nonlocal member_id, phone_index
            for village, org, count in zip(self.villages, self.village_org, self.village_members, strict=True):
                self.village_member_ids.append(range(member_id, member_id + count))
                for _ in range(count):
                    yield (
                        member_id,
                        _name(rng),
                        _phone(phone_index),
                        org,
                        village.county_id,
                        rng.random() > 0.03,
                        CAMPAIGN_START,
                        self.stamp,
                        self.stamp,
                    )
                    member_id += 1
                    phone_index += 1

        fields = ["id", "name", "phone", "organization", "county", "is_active", "joined_on", "created_at", "updated_at"]
        self._step("party_members", PartyMember, fields, rows())

    def _households_and_assignments(self):
        rng, total = self.rng, self.plan.households
        first = _next_id(Household)
        self.first_household = first
        # Per household, what its visits need: village index, grid, responsible member and size.
        self.hh_village = array("I")
        self.hh_grid = array("q")
        self.hh_member = array("q")
        self.hh_size = array("B")

        def rows():
            index = 0
            for v, (village, count) in enumerate(zip(self.villages, self.village_households, strict=True)):
                grids = self.village_grids[v]
                members = self.village_member_ids[v]
                short = village.short_name
                for i in range(count):
                    size = rng.choice(SIZES)
                    grid = grids[i * len(grids) // count]
                    member = members[i % len(members)]
                    self.hh_village.append(v)
                    self.hh_grid.append(grid)
                    self.hh_member.append(member)
                    self.hh_size.append(size)
                    r = rng.random()
                    yield (
                        first + index,
                        _name(rng),
                        "" if r < 0.05 else _phone(index),
                        f"{short}{STREETS[i % len(STREETS)]}{i // len(STREETS) + 1}号",
                        size,
                        village.county_id,
                        village.town_id,
                        village.pk,
                        grid,
                        size == 1 and r < 0.75,
                        r > 0.93,
                        0.3 < r < 0.45,
                        0.6 < r < 0.66,
                        "",
                        CAMPAIGN_START,
                        self.stamp,
                        self.stamp,
                    )
                    index += 1

        fields = [
            "id",
            "head_name",
            "phone",
            "address",
            "size",
            "county",
            "town",
            "village",
            "grid",
            "elderly_alone",
            "left_behind",
            "student_family",
            "no_smartphone",
            "note",
            "roster_start",
            "created_at",
            "updated_at",
        ]
        self._step("households", Household, fields, rows())
        assert len(self.hh_member) == total

        first_assignment = _next_id(Assignment)
        campaign_id = self.campaign.pk

        def assignments():
            for index, member in enumerate(self.hh_member):
                yield (first_assignment + index, campaign_id, first + index, member, self.stamp, self.stamp)

        self._step(
            "assignments",
            Assignment,
            ["id", "campaign", "household", "member", "created_at", "updated_at"],
            assignments(),
        )

    def _visit_counts(self) -> array:
        """How many visits each household gets: about 8% none, the rest share the total at random."""
        rng, households, total = self.rng, self.plan.households, self.plan.visit_count
        counts = array("H", bytes(2 * households))
        visited = [i for i in range(households) if rng.random() < 0.92] or list(range(households))
        for i in visited[:total]:
            counts[i] = 1
        for _ in range(max(0, total - len(visited))):
            counts[visited[rng.randrange(len(visited))]] += 1
        return counts

    def _visits(self):
        rng, plan = self.rng, self.plan
        counts = self._visit_counts()
        first = _next_id(Visit)
        campaign = self.campaign
        campaign_id = campaign.pk
        rule = QualifyingRule(campaign)  # the 四真 rule itself, not a copy of it
        types = self.fraud_type_ids
        masks = array("H")
        days = max(1, plan.report_days)
        start = dt.datetime.combine(CAMPAIGN_START, dt.time(0, 0), tzinfo=self.tz)
        villages = self.villages

        def rows():
            visit_id = first
            for index, count in enumerate(counts):
                if not count:
                    continue
                village = villages[self.hh_village[index]]
                household_id = self.first_household + index
                grid = self.hh_grid[index]
                member = self.hh_member[index]
                size = self.hh_size[index]
                for _ in range(count):
                    at = start + dt.timedelta(minutes=rng.randrange(days) * 1440 + rng.randrange(480, 1200))
                    r = rng.random()
                    met = r < 0.92
                    signed = met and rng.random() < 0.85
                    n_types = 0 if r > 0.9 else (1 if r < 0.45 else (2 if r < 0.75 else 3))
                    mask = 0
                    for t in rng.sample(range(len(types)), n_types):
                        mask |= 1 << t
                    masks.append(mask)
                    explained = n_types > 0
                    installed = min(size, 3) if r < 0.35 else (1 if r < 0.6 else 0)
                    registered = installed if r < 0.3 else min(installed, 1)
                    verified = registered if r < 0.25 else 0
                    qualified = rule.allows(_Ticks(r < 0.97, met, explained, signed), n_types)
                    yield (
                        visit_id,
                        uuid.UUID(int=rng.getrandbits(128), version=4),
                        campaign_id,
                        household_id,
                        member,
                        at,
                        r < 0.97,
                        met,
                        explained,
                        signed,
                        True,
                        r < 0.7,
                        signed,
                        installed,
                        registered,
                        verified,
                        verified,
                        qualified,
                        "",
                        "",
                        "",
                        village.county_id,
                        village.town_id,
                        village.pk,
                        grid,
                        at + dt.timedelta(minutes=5),
                    )
                    visit_id += 1

        fields = [
            "id",
            "client_id",
            "campaign",
            "household",
            "visitor",
            "visited_at",
            "entered",
            "met_person",
            "explained",
            "signed",
            "left_brochure",
            "left_letter",
            "left_pledge",
            "app_installed",
            "app_registered",
            "app_verified",
            "alerts_enabled",
            "is_qualified",
            "signature",
            "photo",
            "notes",
            "county",
            "town",
            "village",
            "grid",
            "created_at",
        ]
        self._step("visits", Visit, fields, rows())

        through = Visit.fraud_types.through
        first_link = _next_id(through)

        def links():
            link_id = first_link
            for offset, mask in enumerate(masks):
                bit = 0
                while mask:
                    if mask & 1:
                        yield (link_id, first + offset, types[bit])
                        link_id += 1
                    mask >>= 1
                    bit += 1

        self._step("visit_fraud_types", through, ["id", "visit", "fraudtype"], links())
        # The COPY may have skipped the triggers that keep each member's latest visit: written once from scratch.
        started = time.perf_counter()
        self.counts["last_visits"] = rebuild_last_visits()
        self.steps["last_visits"] = round(time.perf_counter() - started, 2)
        self.log(
            f"  {STEP_LABELS['last_visits']} {self.counts['last_visits']:,} 行，{self.steps['last_visits']:.1f} 秒"
        )

    def _reports(self):
        """Daily county and town figures rising over the campaign; 实名 stays under 注册."""
        rng, days = self.rng, self.plan.report_days
        town_households: dict[int, int] = {}
        for village, count in zip(self.villages, self.village_households, strict=True):
            town_households[village.town_id] = town_households.get(village.town_id, 0) + count
        towns_by_county: dict[int, list[tuple[int, int]]] = {}
        for town_id, county_id in Town.objects.filter(pk__in=town_households).values_list("pk", "county_id"):
            towns_by_county.setdefault(county_id, []).append((town_id, town_households[town_id]))
        first = _next_id(RegistrationReport)

        def rows():
            report_id = first
            for county in self.counties:
                population = county.population or FALLBACK_POPULATION
                start_rate, end_rate = rng.uniform(0.05, 0.09), rng.uniform(0.18, 0.32)
                verified_share = rng.uniform(0.70, 0.80)
                towns = sorted(towns_by_county.get(county.pk, []))
                in_towns = sum(h for _, h in towns) or 1
                for d in range(days):
                    progress = d / max(1, days - 1)
                    rate = start_rate + (end_rate - start_rate) * progress
                    registered = round(population * rate)
                    verified = round(registered * (verified_share + 0.08 * progress))
                    as_of = self.day(d)
                    yield (
                        report_id,
                        county.pk,
                        None,
                        as_of,
                        registered,
                        verified,
                        None,
                        SOURCE,
                        self.stamp,
                        self.stamp,
                    )
                    report_id += 1
                    for town_id, households in towns:
                        share = households / in_towns
                        yield (
                            report_id,
                            county.pk,
                            town_id,
                            as_of,
                            round(registered * share),
                            round(verified * share),
                            round(population * share),
                            SOURCE,
                            self.stamp,
                            self.stamp,
                        )
                        report_id += 1

        fields = [
            "id",
            "county",
            "town",
            "as_of",
            "registered",
            "verified",
            "population",
            "source",
            "created_at",
            "updated_at",
        ]
        self._step("registration_reports", RegistrationReport, fields, rows())


def _apportion(total: int, weights, *, minimum: int) -> list[int]:
    """Split ``total`` by ``weights`` into whole numbers (largest remainder), each at least ``minimum``."""
    n = len(weights)
    spare = total - minimum * n
    if spare < 0:
        raise ValueError("total too small for the minimum")
    weight_sum = float(sum(weights)) or 1.0
    exact = [spare * w / weight_sum for w in weights]
    shares = [math.floor(x) for x in exact]
    short = spare - sum(shares)
    for i in sorted(range(n), key=lambda i: exact[i] - shares[i], reverse=True)[:short]:
        shares[i] += 1
    return [minimum + s for s in shares]


def _name(rng: random.Random) -> str:
    given = GIVEN[int(rng.random() * len(GIVEN))]
    if rng.random() < 0.7:
        given += GIVEN[int(rng.random() * len(GIVEN))]
    return SURNAMES[int(rng.random() * len(SURNAMES))] + given


def _phone(index: int) -> str:
    return PHONE_PREFIXES[index % len(PHONE_PREFIXES)] + f"{(index * PHONE_STEP + PHONE_OFFSET) % 100_000_000:08d}"
