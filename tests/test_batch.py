"""outreach.lib.batch: the INSERTs after a write sent as one statement, with the answers they gave alone."""

import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from outreach.dashboards.models import PendingVillage
from outreach.lib import batch
from outreach.lib.jobs import mark_new
from outreach.mobile.models import PendingIntegrityCheck
from outreach.visits.models import Visit
from tests.factories import make_campaign, make_household

pytestmark = pytest.mark.django_db


def _inserts(captured):
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith(("INSERT", "WITH"))]


def test_it_gives_each_insert_the_count_it_would_get_alone(places):
    mark_new(PendingVillage, [(places.zhouzhuang.pk,)], ("village",))
    got = {}
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), batch.combined(connection.alias):
        mark_new(PendingVillage, [(places.zhouzhuang.pk,)], ("village",), then=lambda n: got.update(old=n))
        mark_new(
            PendingIntegrityCheck,
            [(places.wangzhuang.pk, "2026-03-01")],
            ("village", "day"),
            then=lambda n: got.update(new=n),
        )
        assert got == {} or connection.vendor != "postgresql"  # held until the block ends
    assert got == {"old": 0, "new": 1}
    assert len(_inserts(captured)) == (1 if connection.vendor == "postgresql" else 2)
    assert PendingIntegrityCheck.objects.filter(village=places.wangzhuang).count() == 1


def test_it_sends_held_rows_before_any_other_statement(places):
    with transaction.atomic(), batch.combined(connection.alias):
        mark_new(PendingVillage, [(places.sanquan_village.pk,)], ("village",), then=lambda n: None)
        # A read inside the block sees the row: the held INSERT went first.
        assert PendingVillage.objects.filter(village=places.sanquan_village).exists()


def test_it_flushes_before_a_second_insert_into_the_same_table(places):
    got = []
    with CaptureQueriesContext(connection) as captured, transaction.atomic(), batch.combined(connection.alias):
        for village in (places.zhouzhuang, places.zhouzhuang):
            mark_new(PendingVillage, [(village.pk,)], ("village",), then=got.append)
    assert got == [1, 0]
    assert len(_inserts(captured)) == 2


def test_it_drops_held_rows_when_the_block_fails(places):
    with pytest.raises(RuntimeError), transaction.atomic(), batch.combined(connection.alias):
        mark_new(PendingVillage, [(places.jishan_village.pk,)], ("village",), then=lambda n: None)
        raise RuntimeError
    assert not PendingVillage.objects.filter(village=places.jishan_village).exists()


def test_it_writes_a_visits_history_scripts_and_marks_in_one_statement_and_a_resend_none(places, users):
    # record_visit's rows after the visit (history, scripts, the two marks): one statement on PostgreSQL, one each
    # elsewhere, the same rows either way; a resend writes nothing.
    from django.utils import timezone

    from outreach.visits.models import FraudType
    from outreach.visits.services import record_visit

    household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    campaign = make_campaign()
    script = FraudType.objects.filter(is_active=True).first() or FraudType.objects.create(name="刷单")
    PendingVillage.objects.all().delete()
    PendingIntegrityCheck.objects.all().delete()
    with CaptureQueriesContext(connection) as captured:
        visit, created = record_visit(
            client_id=uuid.UUID("6f0e3c1e-8d1b-4d55-9a3e-2f4b8c9d0e1f"),
            household=household,
            campaign=campaign,
            visited_at=timezone.now(),
            fraud_types=[script.pk],
            recorded_by=users.grid,
            entered=True,
        )
    assert created
    assert len(_inserts(captured)) == (2 if connection.vendor == "postgresql" else 5)
    history = Visit.history.model.objects.get(id=visit.pk)
    assert (history.history_type, history.client_id, history.household_id) == ("+", visit.client_id, household.pk)
    assert list(visit.fraud_types.values_list("pk", flat=True)) == [script.pk]
    assert PendingVillage.objects.filter(village_id=visit.village_id).exists()
    assert PendingIntegrityCheck.objects.filter(village_id=visit.village_id).exists()
    with CaptureQueriesContext(connection) as captured:
        again, created = record_visit(
            client_id=visit.client_id,
            household=household,
            campaign=campaign,
            visited_at=visit.visited_at,
            fraud_types=[script.pk],
            recorded_by=users.grid,
            entered=True,
        )
    assert (again.pk, created) == (visit.pk, False)
    assert len(_inserts(captured)) == 1  # the visit's INSERT, which found the client id
    assert Visit.history.model.objects.filter(id=visit.pk).count() == 1
