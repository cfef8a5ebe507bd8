import itertools
import uuid

import pytest

from outreach.campaigns.models import Campaign
from outreach.visits.models import QUALIFYING_CHECKS, FraudType, IntegrityStatus, QualifyingRule, Visit
from outreach.visits.services import record_visit, requalify_visits
from tests.factories import make_campaign, make_household, make_member, make_visit

pytestmark = pytest.mark.django_db


def test_it_seeds_the_common_fraud_types(db):
    names = set(FraudType.objects.values_list("name", flat=True))
    assert {"刷单返利", "冒充公检法", "虚假征信", "兼职招聘", "网络游戏产品虚假交易"} <= names
    assert len(names) == 10


def test_it_stores_a_resent_visit_once(places):
    household = make_household(places.zhouzhuang)
    client_id = uuid.uuid4()
    kwargs = {
        "client_id": client_id,
        "household": household,
        "campaign": make_campaign(),
        "visited_at": "2021-08-01T10:00:00+08:00",
    }
    first, created = record_visit(**kwargs, met_person=True)
    again, created_again = record_visit(**kwargs, met_person=False)
    assert created and not created_again
    assert again.pk == first.pk
    assert Visit.objects.filter(client_id=client_id).count() == 1
    assert Visit.objects.get(pk=first.pk).met_person is True


def test_it_copies_the_household_places_onto_the_visit(places):
    household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    visit = make_visit(household)
    assert (visit.county, visit.town, visit.village, visit.grid) == (
        places.xinjiang,
        places.longxing,
        places.zhouzhuang,
        places.zhouzhuang_grid,
    )


def test_it_qualifies_a_visit_by_the_campaign_rule(places):
    household = make_household(places.zhouzhuang)
    scripts = list(FraudType.objects.all()[:2])
    full = {"entered": True, "met_person": True, "explained": True, "signed": True}
    assert make_visit(household, fraud_types=scripts, **full).is_qualified
    assert not make_visit(household, fraud_types=[], **full).is_qualified
    assert not make_visit(household, fraud_types=scripts, **{**full, "signed": False}).is_qualified
    assert not make_visit(household, fraud_types=scripts, **{**full, "met_person": False}).is_qualified
    # The default rule does not ask for 真入户; a campaign may.
    assert make_visit(household, fraud_types=scripts, **{**full, "entered": False}).is_qualified
    strict = make_campaign(name="严格", require_entered=True)
    assert not make_visit(household, campaign=strict, fraud_types=scripts, **{**full, "entered": False}).is_qualified


def test_it_answers_the_same_in_python_and_in_sql_for_every_rule_and_every_visit(places):
    """The rule is declared once (``QUALIFYING_CHECKS``): the Python reading (``record_visit``, the admin) and the
    SQL reading (``requalify_visits``) agree for all 32 campaign rules (四真 and 待核查的走访不计入入户率) × every
    combination of the visit's ticks and integrity status × with or without a script explained, and both
    match the count the rule implies."""
    household = make_household(places.zhouzhuang)
    script = FraudType.objects.first()
    campaign = make_campaign(name="四真核对")
    choices = {
        check.tick: list(IntegrityStatus.values) if check.refused else [False, True] for check in QUALIFYING_CHECKS
    }
    ticks = list(choices)
    visits = {}
    for combination in itertools.product(*choices.values()):
        for scripts in ([], [script]):
            visit = make_visit(
                household, campaign=campaign, fraud_types=scripts, **dict(zip(ticks, combination, strict=True))
            )
            visits[visit.pk] = (visit, len(scripts))
    for switches in itertools.product([False, True], repeat=len(QUALIFYING_CHECKS)):
        Campaign.objects.filter(pk=campaign.pk).update(
            **{check.switch: on for check, on in zip(QUALIFYING_CHECKS, switches, strict=True)}
        )
        campaign.refresh_from_db()
        rule = QualifyingRule(campaign)
        in_python = set()
        for pk, (visit, explained) in visits.items():
            visit.campaign = campaign
            if visit.qualifies(explained):
                in_python.add(pk)
        in_sql = set(Visit.objects.filter(rule.as_q(), campaign=campaign).values_list("pk", flat=True))
        assert in_sql == in_python, switches
        # Every required tick must be on, a required integrity must not be refused; 真讲解 also halves the
        # visits by the script.
        expected = 1 if campaign.require_explained else 2
        for check, on in zip(QUALIFYING_CHECKS, switches, strict=True):
            values = choices[check.tick]
            expected *= (len(values) - len(check.refused) if check.refused else 1) if on else len(values)
        assert len(in_python) == expected, switches
        requalify_visits(campaign)
        stored = set(Visit.objects.filter(campaign=campaign, is_qualified=True).values_list("pk", flat=True))
        assert stored == in_python, switches


def test_it_records_the_visitor(places):
    member = make_member(places.zhouzhuang)
    visit = make_visit(make_household(places.zhouzhuang), visitor=member)
    assert visit.visitor == member


@pytest.mark.django_db(transaction=True)
def test_it_stores_concurrent_resends_once(places):
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    household = make_household(places.zhouzhuang)
    campaign = make_campaign()
    client_id = uuid.uuid4()
    barrier = threading.Barrier(6)
    results = []

    def resend():
        from django.db import connections

        try:
            barrier.wait()
            _, created = record_visit(
                client_id=client_id, household=household, campaign=campaign, visited_at="2021-08-01T10:00:00+08:00"
            )
            results.append(created)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=resend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert Visit.objects.filter(client_id=client_id).count() == 1
