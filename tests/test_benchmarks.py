"""The benchmark's dataset builder and measuring code, at a tiny scale (nothing here is timed)."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F

from outreach.benchmarks.city import CAMPAIGN_NAME
from outreach.benchmarks.models import CityBuild
from outreach.campaigns.models import Assignment
from outreach.people.models import Household, PartyMember, PartyOrganization
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import Visit
from tests import factories

pytestmark = pytest.mark.django_db

TINY = {"households": 390, "members": 40, "visits": 1000, "report_days": 3, "verbosity": 0}


def build(**options):
    call_command("build_city", **{**TINY, **options})


def fingerprint():
    return (
        list(Household.objects.order_by("id").values_list("head_name", "phone", "village__code", "grid__name")),
        list(Visit.objects.order_by("id").values_list("client_id", "visited_at", "is_qualified", "household__phone")),
        list(RegistrationReport.objects.order_by("id").values_list("county__code", "as_of", "registered")),
    )


def test_it_builds_the_counts_it_was_asked_for(places):
    build()
    assert Household.objects.count() == 390
    assert PartyMember.objects.count() == 40
    assert Visit.objects.count() == 1000
    assert Assignment.objects.filter(campaign__name=CAMPAIGN_NAME).count() == 390
    counties = County.objects.count()
    assert RegistrationReport.objects.filter(town=None).count() == counties * 3
    assert RegistrationReport.objects.exclude(town=None).values("as_of").distinct().count() == 3
    build_record = CityBuild.objects.get()
    assert build_record.finished
    assert build_record.counts["visits"] == 1000


def test_it_puts_every_household_in_a_real_village_with_a_grid_of_that_village(places):
    build()
    households = Household.objects.all()
    assert not households.filter(village__is_placeholder=True).exists()
    assert not households.filter(grid=None).exists()
    assert not households.exclude(grid__village=F("village")).exists()
    assert not households.exclude(county=F("village__county"), town=F("village__town")).exists()
    # A small city still spans several counties.
    assert households.values("county").distinct().count() >= 10
    phones = [p for p in households.values_list("phone", flat=True) if p]
    assert len(phones) == len(set(phones))


def test_it_assigns_each_household_once_to_a_member_of_its_own_village(places):
    build()
    assert not Household.objects.annotate(n=Count("assignments")).exclude(n=1).exists()
    assert not Assignment.objects.exclude(member__organization__village=F("household__village")).exists()
    assert not PartyOrganization.objects.filter(village=None).exists()
    # Members of one village share its households evenly (about ten each at full scale).
    per_village = {}
    for village, n in (
        Assignment.objects.values_list("household__village", "member")
        .annotate(n=Count("id"))
        .values_list("household__village", "n")
    ):
        per_village.setdefault(village, []).append(n)
    assert all(max(counts) - min(counts) <= 1 for counts in per_village.values())


def test_it_stores_visits_the_way_record_visit_would(places):
    build()
    visits = Visit.objects.all()
    assert not visits.exclude(
        county=F("household__county"),
        town=F("household__town"),
        village=F("household__village"),
        grid=F("household__grid"),
    ).exists()
    for visit in visits.select_related("campaign").annotate(types=Count("fraud_types")):
        assert visit.explained == (visit.types > 0)
        assert visit.is_qualified == visit.qualifies(visit.types)
        assert visit.app_verified <= visit.app_registered <= visit.app_installed
    assert visits.filter(is_qualified=True).exists() and visits.filter(is_qualified=False).exists()
    assert Household.objects.filter(visits=None).exists()  # not every household is visited yet
    campaign = visits.first().campaign
    assert not visits.exclude(visited_at__date__gte=campaign.start_date).exists()
    assert visits.values("client_id").distinct().count() == 1000


def test_it_keeps_the_reported_figures_consistent(places):
    build()
    assert not RegistrationReport.objects.filter(verified__gt=F("registered")).exists()
    for county in County.objects.all():
        figures = list(
            RegistrationReport.objects.filter(county=county, town=None).order_by("as_of").values_list("registered")
        )
        assert figures == sorted(figures)


def test_it_builds_the_same_city_from_the_same_seed(places):
    build()
    build(reset=True)  # a reset also drops the fixture's hand-made grids: start both builds from the same state
    first = fingerprint()
    build(reset=True)
    assert fingerprint() == first
    build(reset=True, seed=7)
    assert fingerprint() != first


def test_it_does_nothing_when_the_same_city_is_there(places):
    build()
    ids = list(Visit.objects.values_list("id", flat=True)[:5])
    build()
    assert CityBuild.objects.count() == 1
    assert list(Visit.objects.values_list("id", flat=True)[:5]) == ids


def test_it_asks_for_reset_before_replacing_another_build(places):
    build()
    with pytest.raises(CommandError, match="--reset"):
        build(households=400)
    build(households=400, reset=True)
    assert Household.objects.count() == 400
    assert CityBuild.objects.count() == 1


def test_it_refuses_a_database_holding_data_it_did_not_build(places):
    factories.make_household(places.zhouzhuang)
    with pytest.raises(CommandError, match="单独的数据库"):
        build()
    with pytest.raises(CommandError, match="单独的数据库"):
        build(reset=True)
    assert Household.objects.count() == 1
