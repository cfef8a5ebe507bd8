"""The summary refresh as one kind of background work: a deduplicated django-tasks job run by ``db_worker``.

These tests commit for real (``transaction=True``): the job is queued on commit, which a test wrapped in one
transaction never reaches.
"""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks.signals import task_enqueued
from django_tasks_db.models import DBTaskResult

from outreach.dashboards.models import PendingVillage
from outreach.dashboards.queries import ranking
from outreach.dashboards.services import rebuild_summaries
from outreach.dashboards.tasks import refresh_summaries
from outreach.visits.models import FraudType
from tests.factories import make_campaign, make_household, make_member, make_visit

pytestmark = pytest.mark.django_db(transaction=True)

AUG13 = dt.date(2021, 8, 13)
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def visit(household, member, day):
    """A qualifying visit, committed in its own transaction as a phone's POST is."""
    return make_visit(
        household,
        visitor=member,
        campaign=make_campaign(),
        visited_at=timezone.make_aware(dt.datetime(2021, 8, day, 10, 0)),
        met_person=True,
        explained=True,
        signed=True,
        entered=True,
        fraud_types=[FraudType.objects.get_or_create(name="刷单返利")[0]],  # a flush before may have emptied it
    )


def visited(places, village="周庄村") -> int:
    return next(r for r in ranking("village", places.longxing, as_of=AUG13).rows if r["name"] == village)["visited"]


def waiting_jobs():
    return DBTaskResult.objects.filter(task_path=refresh_summaries.module_path, status=TaskResultStatus.READY)


@pytest.fixture
def world(places):
    make_campaign()
    member = make_member(places.zhouzhuang, name="甲")
    zhouzhuang = [make_household(places.zhouzhuang) for _ in range(6)]
    wangzhuang = [make_household(places.wangzhuang) for _ in range(2)]
    rebuild_summaries()
    return member, zhouzhuang, wangzhuang


def test_it_queues_one_refresh_job_for_a_burst_and_the_worker_refreshes(world, places, settings):
    settings.TASKS = DATABASE_QUEUE
    member, zhouzhuang, wangzhuang = world
    for day, household in enumerate(zhouzhuang[:4], start=1):
        visit(household, member, day)  # four POSTs, four commits
    with transaction.atomic():  # and one transaction that records three visits in two villages
        visit(zhouzhuang[4], member, 5)
        visit(wangzhuang[0], member, 5)
        visit(wangzhuang[1], member, 6)
    assert waiting_jobs().count() == 1
    assert set(PendingVillage.objects.values_list("village_id", flat=True)) == {
        places.zhouzhuang.pk,
        places.wangzhuang.pk,
    }
    assert visited(places) == 0  # nothing refreshed yet: the page reads the rows as they are

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    job = DBTaskResult.objects.get(task_path=refresh_summaries.module_path)
    assert (job.status, job.return_value) == (TaskResultStatus.SUCCESSFUL, 2)  # both villages in one run
    assert not PendingVillage.objects.exists()
    assert (visited(places), visited(places, "王庄村")) == (5, 2)
    # A job that has run no longer counts as waiting: the next visit queues a new one.
    visit(zhouzhuang[5], member, 7)
    assert waiting_jobs().count() == 1
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert visited(places) == 6


def test_it_refreshes_inline_once_per_transaction_with_the_immediate_backend(world, places, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    member, zhouzhuang, _ = world
    queued = []

    def count(sender, task_result, **kwargs):
        if task_result.task.module_path == refresh_summaries.module_path:  # not the integrity check's job
            queued.append(task_result)

    task_enqueued.connect(count)
    try:
        with transaction.atomic():
            for household in zhouzhuang[:5]:
                visit(household, member, 3)
            assert queued == []  # nothing runs before the commit
    finally:
        task_enqueued.disconnect(count)
    assert len(queued) == 1 and queued[0].status == TaskResultStatus.SUCCESSFUL
    assert not PendingVillage.objects.exists()
    assert visited(places) == 5


def test_it_asks_the_queue_only_for_a_village_not_yet_marked(world, places, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.TASKS = DATABASE_QUEUE
    member, zhouzhuang, wangzhuang = world
    visit(zhouzhuang[0], member, 1)
    assert waiting_jobs().count() == 1
    with CaptureQueriesContext(connection) as captured:
        visit(zhouzhuang[1], member, 1)  # the marks (summary; integrity for that day) still wait: their jobs take it
    assert not [q for q in captured.captured_queries if DBTaskResult._meta.db_table in q["sql"]]
    with CaptureQueriesContext(connection) as captured:
        visit(wangzhuang[0], member, 2)  # a new mark asks whether a job is waiting (one is)
    assert [q for q in captured.captured_queries if DBTaskResult._meta.db_table in q["sql"]]
    assert waiting_jobs().count() == 1
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert not PendingVillage.objects.exists()
    assert (visited(places), visited(places, "王庄村")) == (2, 1)
