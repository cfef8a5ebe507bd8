"""Each member's latest visit, kept by the database's triggers (VisitorLastVisit), and the idle-member rule read
from it: the same members and the same last visits as looking at every visit, whoever wrote the visits."""

import datetime as dt
import random

import pytest
from django.db import connection
from django.utils import timezone

from outreach.dashboards.queries import idle_members, members_without_visit
from outreach.people.models import PartyMember
from outreach.visits.models import Visit, VisitorLastVisit
from outreach.visits.services import rebuild_last_visits
from tests.factories import make_campaign, make_household, make_member, make_visit


def at(day: int, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2021, 8, day, hour, 0))


def kept() -> dict[int, dt.datetime | None]:
    return dict(VisitorLastVisit.objects.values_list("member_id", "last_visited_at"))


def looked_up() -> dict[int, dt.datetime]:
    latest = {}
    for member, when in Visit.objects.filter(visitor__isnull=False).values_list("visitor_id", "visited_at"):
        latest[member] = max(when, latest.get(member, when))
    return latest


def present(table: dict) -> dict:
    return {k: v for k, v in table.items() if v is not None}


@pytest.fixture
def two(places):
    make_campaign()
    return make_member(places.zhouzhuang, name="甲"), make_member(places.zhouzhuang, name="乙")


def test_an_insert_moves_the_latest_visit_only_later(two, places):
    a, _ = two
    h = make_household(places.zhouzhuang)
    make_visit(h, visitor=a, visited_at=at(5))
    assert kept() == {a.pk: at(5)}
    make_visit(h, visitor=a, visited_at=at(2))  # entered late on the phone: an earlier visit
    assert kept() == {a.pk: at(5)}
    make_visit(h, visitor=a, visited_at=at(9))
    assert kept() == {a.pk: at(9)}
    make_visit(h, visitor=None, visited_at=at(10))  # a grid worker's own visit: no member
    assert kept() == {a.pk: at(9)}


def test_an_edit_or_a_delete_looks_the_old_visitor_up_again(two, places):
    a, b = two
    h = make_household(places.zhouzhuang)
    early = make_visit(h, visitor=a, visited_at=at(3))
    late = make_visit(h, visitor=a, visited_at=at(7))
    late.visited_at = at(1)  # the admin corrects the date of the latest visit
    late.save()
    assert kept() == {a.pk: at(3)}
    early.visitor = b  # … and who made the other one
    early.save()
    assert present(kept()) == {a.pk: at(1), b.pk: at(3)}
    late.delete()
    assert present(kept()) == {b.pk: at(3)}
    Visit.objects.filter(pk=early.pk).update(visited_at=at(4))  # a queryset update is seen too
    assert present(kept()) == {b.pk: at(4)}
    Visit.objects.all().delete()
    assert present(kept()) == {}


def test_the_rebuild_writes_what_the_triggers_keep(two, places):
    rng = random.Random(7)
    a, b = two
    households = [make_household(places.zhouzhuang) for _ in range(3)]
    for _ in range(12):
        make_visit(rng.choice(households), visitor=rng.choice([a, b, None]), visited_at=at(rng.randint(1, 28)))
    assert present(kept()) == looked_up()
    VisitorLastVisit.objects.all().delete()
    assert rebuild_last_visits() == len(looked_up())
    assert present(kept()) == looked_up()


def brute_force_idle(members, days: int, as_of: dt.date) -> dict[int, dt.datetime | None]:
    """The rule written out over every visit: on the roster and active, no visit from ``days`` days before
    ``as_of`` to the end of ``as_of``; the latest visit before the end of ``as_of``."""
    start = timezone.make_aware(dt.datetime.combine(as_of - dt.timedelta(days=days - 1), dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min))
    idle = {}
    for member in members:
        if not member.is_active or member.joined_on > as_of or (member.left_on and member.left_on <= as_of):
            continue
        times = [v for v in member.visits.values_list("visited_at", flat=True) if v < end]
        if not any(t >= start for t in times):
            idle[member.pk] = max(times, default=None)
    return idle


def test_idle_members_match_the_rule_over_every_visit(places, users):
    rng = random.Random(20210813)
    make_campaign()
    members = [make_member(places.zhouzhuang) for _ in range(8)]
    members[0].is_active = False
    members[0].save()
    households = [make_household(places.zhouzhuang) for _ in range(4)]
    for _ in range(30):
        day = rng.randint(1, 28)
        make_visit(rng.choice(households), visitor=rng.choice(members[:6]), visited_at=at(day, rng.randint(0, 23)))
    # A list of an earlier day must not see the visits made after it, the latest kept one included.
    for as_of in (dt.date(2021, 8, 3), dt.date(2021, 8, 14), dt.date(2021, 8, 28), dt.date(2021, 9, 30)):
        for days in (1, 3, 7, 30):
            got = idle_members(PartyMember.objects.all(), days, as_of)
            assert {p.pk: p.last_visit for p in got} == brute_force_idle(PartyMember.objects.all(), days, as_of)
    listed = [p.last_visit for p in members_without_visit(users.county, 3, dt.date(2021, 8, 28))]
    assert listed == sorted(listed, key=lambda t: (t is not None, t))  # never visited first, then the oldest


def test_the_chase_list_probes_no_visits_for_todays_list(two, places, users):
    # The list of today reads the kept latest visits: its SQL names the visits table in no subquery that runs
    # per member (the CASE's lookup runs only for a member visited after the list's day).
    a, _ = two
    make_visit(make_household(places.zhouzhuang), visitor=a, visited_at=at(2))
    sql = str(members_without_visit(users.county, 7, dt.date(2021, 8, 28)).query)
    assert "visits_visitorlastvisit" in sql
    assert sql.count("NOT EXISTS") == 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            qs = members_without_visit(users.county, 7, dt.date(2021, 8, 28))
            query, params = qs.query.sql_with_params()
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params)
            plan = cursor.fetchone()[0][0]["Plan"]

        def loops_on(node, table):
            here = node.get("Actual Loops", 0) if node.get("Relation Name") == table else 0
            return here + sum(loops_on(child, table) for child in node.get("Plans", []))

        assert loops_on(plan, "visits_visit") == 0
