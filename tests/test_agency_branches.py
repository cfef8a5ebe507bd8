"""Agency branches (县农机发展中心党支部, tied to no village) reach the organization summaries incrementally:
members' writes mark the organization stale, and the one refresh job rebuilds it, as a village's visit does."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from outreach.dashboards.models import OrganizationDaySummary, PendingOrganization
from outreach.dashboards.queries import ranking
from outreach.dashboards.services import ensure_fresh_summaries, mark_organizations_stale, rebuild_summaries
from outreach.dashboards.tasks import refresh_summaries
from outreach.dataio.services import import_file
from outreach.lib.signals import field_data_changed
from outreach.people.models import PartyMember, PartyOrganization
from outreach.visits.models import FraudType
from tests.dataio_files import simple_book
from tests.factories import WORLD_START, make_campaign, make_household, make_member, make_visit

AUG13 = dt.date(2021, 8, 13)


def agency_row(places):
    rows = ranking("organization", places.xinjiang, as_of=AUG13).rows
    return next(r for r in rows if r["name"] == "县农机发展中心党支部")


@pytest.fixture
def agency(places):
    make_campaign()
    branch = PartyOrganization.objects.create(county=places.xinjiang, name="县农机发展中心党支部")
    rebuild_summaries()
    return branch


def test_it_counts_a_new_agency_member_without_a_rebuild(agency, places):
    member = PartyMember.objects.create(
        name="甲", phone="13900000001", organization=agency, county=places.xinjiang, joined_on=WORLD_START
    )
    assert PendingOrganization.objects.filter(organization=agency).exists()
    ensure_fresh_summaries(grace_seconds=0)
    assert agency_row(places)["members"] == 1
    assert not PendingOrganization.objects.exists()

    make_visit(
        make_household(places.zhouzhuang),
        visitor=member,
        visited_at=timezone.make_aware(dt.datetime(2021, 8, 2, 10)),
        entered=True,
        met_person=True,
        explained=True,
        signed=True,
        fraud_types=[FraudType.objects.get_or_create(name="刷单返利")[0]],
    )
    ensure_fresh_summaries(grace_seconds=0)
    row = agency_row(places)
    assert (row["visits"], row["active_members"], row["v_participation_rate"]) == (1, 1, 1)


def test_it_moves_a_member_between_branches_on_both_rows(agency, places):
    member = make_member(places.zhouzhuang, name="乙")
    ensure_fresh_summaries(grace_seconds=0)
    village_branch = member.organization
    member.organization = agency
    member.save()
    assert set(PendingOrganization.objects.values_list("organization_id", flat=True)) == {
        agency.pk,
        village_branch.pk,
    }
    ensure_fresh_summaries(grace_seconds=0)
    summary = OrganizationDaySummary.objects.filter(day=AUG13)
    assert summary.get(organization=agency).members == 1
    assert summary.get(organization=village_branch).members == 0
    # 在岗 only steers today's chase lists; leaving the roster (as of a date) is what changes that day's count.
    member.left_on, member.left_reason = AUG13, "transferred"
    member.save()
    ensure_fresh_summaries(grace_seconds=0)
    assert summary.get(organization=agency).members == 0


def test_it_refreshes_agency_members_of_an_imported_roster(agency, places, tmp_path):
    path = tmp_path / "党员.xlsx"
    path.write_bytes(
        simple_book(
            [
                ["党员姓名", "联系电话", "所在党组织", "村（社区）", "列入名册日期", "更正原因"],
                ["刘敏", "13912340001", "县农机发展中心党支部", None, "2021-01-01", "补录"],
                ["王芳", "13912340002", "县农机发展中心党支部", None, "2021-01-01", "补录"],
            ]
        )
    )
    PendingOrganization.objects.all().delete()
    report = import_file("members", path, county="新绛县")
    assert not report.errors, report.errors
    assert not PendingOrganization.objects.exists()  # bulk writes send no post_save: the import's signal marks
    # The import's signal is sent on commit, which a test's wrapping transaction never reaches: send it as
    # the commit would, with what the import touched.
    assert agency.pk in report.organization_ids
    field_data_changed.send(sender=None, village_ids=set(), organization_ids=report.organization_ids)
    ensure_fresh_summaries(grace_seconds=0)
    assert agency_row(places)["members"] == 2


@pytest.mark.django_db(transaction=True)
def test_it_queues_the_refresh_job_for_an_agency_member(places, settings):
    make_campaign()
    agency = PartyOrganization.objects.create(county=places.xinjiang, name="县农机发展中心党支部")
    rebuild_summaries()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    with transaction.atomic():
        for n in range(3):
            PartyMember.objects.create(
                name=f"党员{n}",
                phone=f"1390000010{n}",
                organization=agency,
                county=places.xinjiang,
                joined_on=WORLD_START,
            )
    waiting = DBTaskResult.objects.filter(task_path=refresh_summaries.module_path, status=TaskResultStatus.READY)
    assert waiting.count() == 1
    assert OrganizationDaySummary.objects.get(organization=agency, day=AUG13).members == 0
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert OrganizationDaySummary.objects.get(organization=agency, day=AUG13).members == 3
    assert not PendingOrganization.objects.exists()


def test_it_counts_only_new_organization_marks_so_a_burst_asks_the_queue_once(agency):
    PendingOrganization.objects.all().delete()
    assert mark_organizations_stale({agency.pk}) == 1
    assert mark_organizations_stale({agency.pk, None}) == 0  # already marked: the job asked for will take it
    assert PendingOrganization.objects.filter(organization=agency).count() == 1
