"""Integrity checks run by themselves: a visit's arrival queues the deduplicated check job (run by ``db_worker``,
like the summary refresh) over the village-days marked; flags roll up into ``Visit.integrity``, ranking rows show
each unit's share of flagged visits, and a campaign may leave flagged visits out of 入户率 until reviewed."""

import datetime as dt
import io
from fractions import Fraction

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from openpyxl import load_workbook

from outreach.campaigns.models import Campaign
from outreach.dashboards.queries import ranking
from outreach.dashboards.services import ensure_fresh_summaries, rebuild_summaries
from outreach.mobile.models import IntegrityFlag, PendingIntegrityCheck
from outreach.mobile.services import check_pending_integrity, review_flags, scan_visits
from outreach.mobile.tasks import check_integrity
from outreach.visits.models import FraudType, IntegrityStatus, Visit
from tests.factories import make_campaign, make_household, make_visit

AUG13 = dt.date(2021, 8, 13)
DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def at(day, hour=10, minute=0):
    return timezone.make_aware(dt.datetime(2021, 8, day, hour, minute))


def good_visit(household, day=2, hour=10, minute=0, **fields):
    values = {"met_person": True, "explained": True, "signed": True, "entered": True}
    values.update(fields)
    return make_visit(
        household,
        visited_at=at(day, hour, minute),
        fraud_types=[FraudType.objects.get_or_create(name="刷单返利")[0]],
        **values,
    )


def village_row(places, name="周庄村"):
    ensure_fresh_summaries(grace_seconds=0)
    return next(r for r in ranking("village", places.longxing, as_of=AUG13).rows if r["name"] == name)


@pytest.mark.django_db(transaction=True)
def test_it_checks_arriving_visits_without_the_command(places, users, settings):
    """ImmediateBackend (development): each commit runs the check job inline; the fifth household in ten
    minutes flags all five, and the summaries count them."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.MOBILE_RAPID_HOUSEHOLDS, settings.MOBILE_RAPID_MINUTES = 5, 10
    make_campaign()
    visits = [good_visit(make_household(places.zhouzhuang), minute=2 * i, recorded_by=users.grid) for i in range(5)]
    assert set(IntegrityFlag.objects.values_list("visit_id", flat=True)) == {v.pk for v in visits}
    assert set(Visit.objects.values_list("integrity", flat=True)) == {IntegrityStatus.OPEN}
    assert not PendingIntegrityCheck.objects.exists()
    row = village_row(places)
    assert (row["visits"], row["flagged_visits"], row["v_flagged_share"]) == (5, 5, 1)


@pytest.mark.django_db(transaction=True)
def test_it_queues_one_check_for_a_burst_and_checks_only_the_marked_days(places, settings):
    settings.TASKS = DATABASE_QUEUE
    make_campaign()
    # An old night visit whose day was checked before this change (no mark left): no full scan reaches it.
    old = good_visit(make_household(places.wangzhuang), day=1, hour=23)
    PendingIntegrityCheck.objects.all().delete()
    DBTaskResult.objects.all().delete()
    with transaction.atomic():
        night = good_visit(make_household(places.zhouzhuang), day=3, hour=23)
        good_visit(make_household(places.zhouzhuang), day=3)
    good_visit(make_household(places.sanquan_village), day=4)
    waiting = DBTaskResult.objects.filter(task_path=check_integrity.module_path, status=TaskResultStatus.READY)
    assert waiting.count() == 1
    assert PendingIntegrityCheck.objects.count() == 2  # 周庄村 on 8月3日, the 三泉镇 village on 8月4日
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    assert not PendingIntegrityCheck.objects.exists()
    assert set(IntegrityFlag.objects.values_list("visit_id", "kind")) == {(night.pk, IntegrityFlag.Kind.NIGHT)}
    assert Visit.objects.get(pk=old.pk).integrity == IntegrityStatus.NONE
    # The flags marked 周庄村 for the summaries, and the refresh job the worker ran after the check counted it.
    assert village_row(places)["flagged_visits"] == 1


@pytest.mark.django_db
def test_it_leaves_flagged_visits_out_of_the_visit_rate_until_reviewed(
    places, users, client, django_capture_on_commit_callbacks
):
    campaign = make_campaign()
    homes = [make_household(places.zhouzhuang) for _ in range(4)]
    night = good_visit(homes[0], hour=23)
    good_visit(homes[1])
    rebuild_summaries()
    scan_visits()
    check_pending_integrity()  # nothing left to find: the marks are the scan's village-days
    assert Visit.objects.get(pk=night.pk).integrity == IntegrityStatus.OPEN
    row = village_row(places)
    assert (row["visited"], row["flagged_visits"]) == (2, 1)  # switch off: the flag is shown, still counted

    campaign.exclude_flagged = True
    with django_capture_on_commit_callbacks(execute=True):
        campaign.save()  # the rule changed: the campaign's visits are requalified
    row = village_row(places)
    assert (row["visited"], row["v_visit_rate"]) == (1, Fraction(1, 4))
    page = client_page(client, users.county, places)
    assert "待核查的走访不计入入户率" in page and "疑 50.00%" in page

    flag = IntegrityFlag.objects.get(visit=night)
    review_flags(users.county, IntegrityFlag.objects.filter(pk=flag.pk), IntegrityFlag.Status.CONFIRMED, "无人在家")
    assert Visit.objects.get(pk=night.pk).integrity == IntegrityStatus.CONFIRMED
    assert village_row(places)["visited"] == 1  # 确认有误 never counts under the switch
    review_flags(users.county, IntegrityFlag.objects.filter(pk=flag.pk), IntegrityFlag.Status.CLEARED)
    night.refresh_from_db()
    assert (night.integrity, night.is_qualified) == (IntegrityStatus.CLEARED, True)
    row = village_row(places)
    assert (row["visited"], row["flagged_visits"]) == (2, 0)
    flag.refresh_from_db()
    assert flag.reviewed_by == users.county and flag.reviewed_at is not None

    Campaign.objects.filter(pk=campaign.pk).update(exclude_flagged=False)
    assert "待核查的走访不计入入户率" not in client_page(client, users.county, places)


def client_page(client, user, places):
    client.force_login(user)
    return client.get(f"/dashboard/rank/village/{places.longxing.pk}/?date=2021-08-13").content.decode()


@pytest.mark.django_db
def test_it_reviews_flags_in_the_admin_with_who_and_when(places, users, client):
    make_campaign()
    night = good_visit(make_household(places.zhouzhuang), hour=23)
    scan_visits()
    flag = IntegrityFlag.objects.get(visit=night)
    client.force_login(users.county)
    listing = client.get("/admin/mobile/integrityflag/").content.decode()
    assert "审核：确认无误" in listing and "审核：确认有误" in listing
    response = client.post(
        "/admin/mobile/integrityflag/", {"action": "mark_confirmed", "_selected_action": [flag.pk]}, follow=True
    )
    assert "已将1条疑点审核为确认有误" in response.content.decode()
    flag.refresh_from_db()
    assert (flag.status, flag.reviewed_by) == (IntegrityFlag.Status.CONFIRMED, users.county)
    assert flag.get_status_display() == "确认有误"
    assert Visit.objects.get(pk=night.pk).integrity == IntegrityStatus.CONFIRMED
    client.force_login(users.other_county)  # 稷山县 never sees 新绛县's flags
    assert client.get(f"/admin/mobile/integrityflag/{flag.pk}/change/").status_code in (302, 404)


@pytest.mark.django_db
def test_it_shows_and_exports_the_share_of_flagged_visits_on_ranking_rows(places, users, client):
    make_campaign()
    good_visit(make_household(places.zhouzhuang), hour=23)
    for _ in range(3):
        good_visit(make_household(places.zhouzhuang))
    good_visit(make_household(places.wangzhuang))
    rebuild_summaries()
    scan_visits()
    client.force_login(users.county)
    url = f"/dashboard/rank/town/{places.xinjiang.pk}/?date=2021-08-13"
    assert '<span class="flag-badge" title="疑点走访1次">疑 20.00%</span>' in client.get(url).content.decode()
    rows = list(load_workbook(io.BytesIO(client.get(url + "&export=xlsx").content)).active.iter_rows(values_only=True))
    header = rows[2]
    longxing = dict(zip(header, next(r for r in rows[3:] if r[header.index("单位")] == "龙兴镇"), strict=True))
    assert longxing["疑点走访占比"] == pytest.approx(0.2)
    village = ranking("village", places.longxing, as_of=AUG13)
    assert {r["name"]: r["flagged_visits"] for r in village.rows if r["visits"]} == {"周庄村": 1, "王庄村": 0}
    grid = ranking("grid", places.zhouzhuang, as_of=AUG13)
    assert sum(r["flagged_visits"] for r in grid.rows) == 1  # grids count from the visits themselves
