"""督办单: opened at 签发 for the streak units, signed and answered by the unit, closed or returned by the
issuer, 逾期 past the deadline, every step append-only, scoped, and reported by the next bulletin."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from docx import Document

from outreach.accounts.models import Role
from outreach.accounts.scoping import scope_queryset
from outreach.dashboards import bulletins, supervision
from outreach.dashboards.models import SupervisionOrder, SupervisionStep
from outreach.lib.append_only import AppendOnlyError
from outreach.places.models import County
from outreach.registrations.models import RegistrationReport
from tests.factories import make_user

pytestmark = pytest.mark.django_db
State = SupervisionOrder.State


def issue_days(users, days):
    """A county bulletin on each day, the counties in code order (the last three stay at the bottom)."""
    counties = list(County.objects.exclude(population__isnull=True).order_by("code"))
    issued = []
    for day in days:
        for i, county in enumerate(counties):
            RegistrationReport.objects.create(
                county=county, as_of=day, registered=county.population * (40 - i) // 100, verified=1000
            )
        issued.append(bulletins.issue_bulletin(as_of=day, metric="registration_rate", user=users.city))
    return counties, issued


def test_it_opens_orders_at_signature_for_units_reaching_the_streak(places, users, settings):
    settings.DASHBOARD_BOTTOM_STREAK = 2
    counties, issued = issue_days(users, [dt.date(2021, 8, 1)])
    laggard = counties[-1]
    admin = make_user(Role.COUNTY, username="laggard_admin", county=laggard)
    assert not SupervisionOrder.objects.exists()  # one issue at the bottom is not a streak
    _, (second,) = issue_days(users, [dt.date(2021, 8, 2)])
    orders = list(SupervisionOrder.objects.order_by("pk"))
    assert sorted(o.unit_name for o in orders) == sorted(c.name for c in counties[-3:])
    order = next(o for o in orders if o.county == laggard)
    assert (order.bulletin, order.reason, order.state, order.assignee) == (second, "streak", State.WAITING, admin)
    assert order.reason_text == "连续2期排名后三（2021年第2期）"
    assert order.deadline == timezone.localdate() + dt.timedelta(days=3)
    # A third issue opens no second order for a unit whose order is still open.
    issue_days(users, [dt.date(2021, 8, 3)])
    assert SupervisionOrder.objects.count() == 3
    # The bulletin names the orders it opened, on the page and in the Word file.
    shown = bulletins.present(bulletins.frozen_draft(second), 2)
    assert f"对{laggard.name}发出督办单，限期报送整改措施。" in shown["orders"]


def test_it_walks_an_order_from_signature_to_closing_with_every_step_kept(places, users, settings, client):
    settings.DASHBOARD_BOTTOM_STREAK = 2
    counties, _ = issue_days(users, [dt.date(2021, 8, 1)])
    admin = make_user(Role.COUNTY, username="laggard_admin", county=counties[-1])
    other = make_user(Role.COUNTY, username="other_admin", county=counties[0])
    issue_days(users, [dt.date(2021, 8, 2)])
    order = SupervisionOrder.objects.get(county=counties[-1])

    with pytest.raises(supervision.StepRefused, match="不能已回复"):
        supervision.move(order, State.REPLIED, admin, "整改")  # not signed yet
    with pytest.raises(supervision.StepRefused, match="只有被督办单位可以签收和回复"):
        supervision.move(order, State.SIGNED, other)
    supervision.move(order, State.SIGNED, admin)
    with pytest.raises(supervision.StepRefused, match="回复须写明整改措施"):
        supervision.move(order, State.REPLIED, admin, "  ")
    supervision.move(order, State.REPLIED, admin, "逐村排查未走访户，三日内补访。")
    with pytest.raises(supervision.StepRefused, match="只有督办单位可以办结或退回"):
        supervision.move(order, State.CLOSED, admin)
    supervision.move(order, State.RETURNED, users.city, "措施不具体，请列出责任人。")
    supervision.move(order, State.REPLIED, admin, "各镇责任人见附表。")
    supervision.move(order, State.CLOSED, users.city)
    order.refresh_from_db()
    assert order.state == State.CLOSED and not order.is_overdue
    steps = list(order.steps.order_by("at", "pk"))
    assert [s.state for s in steps] == ["waiting", "signed", "replied", "returned", "replied", "closed"]
    assert [s.actor for s in steps[1:]] == [admin, admin, users.city, admin, users.city]
    with pytest.raises(AppendOnlyError):
        steps[2].save()
    with pytest.raises(AppendOnlyError):
        SupervisionStep.objects.filter(order=order).update(text="改过")


def test_it_marks_orders_overdue_and_a_late_reply(places, users, settings):
    settings.DASHBOARD_BOTTOM_STREAK = 2
    counties, _ = issue_days(users, [dt.date(2021, 8, 1)])
    admin = make_user(Role.COUNTY, username="laggard_admin", county=counties[-1])
    issue_days(users, [dt.date(2021, 8, 2)])
    order = SupervisionOrder.objects.get(county=counties[-1])
    SupervisionOrder.objects.filter(pk=order.pk).update(deadline=timezone.localdate() - dt.timedelta(days=1))
    order.refresh_from_db()
    assert order.is_overdue
    supervision.move(order, State.SIGNED, admin)
    step = supervision.move(order, State.REPLIED, admin, "已整改。")
    assert step.late
    order.refresh_from_db()
    assert not order.is_overdue  # answered: no longer 逾期, the late reply stays marked


def test_it_scopes_orders_to_their_unit(places, users, settings):
    settings.DASHBOARD_BOTTOM_STREAK = 2
    counties, _ = issue_days(users, [dt.date(2021, 8, 1), dt.date(2021, 8, 2)])
    assert scope_queryset(users.city, SupervisionOrder.objects.all()).count() == 3
    inside = make_user(Role.COUNTY, username="inside", county=counties[-1])
    assert list(scope_queryset(inside, SupervisionOrder.objects.all()).values_list("unit_name", flat=True)) == [
        counties[-1].name
    ]
    assert not scope_queryset(users.county, SupervisionOrder.objects.filter(county=counties[-1])).exists()


def test_it_reports_last_issues_orders_in_the_next_bulletin(places, users, settings, client):
    settings.DASHBOARD_BOTTOM_STREAK = 2
    counties, _ = issue_days(users, [dt.date(2021, 8, 1)])
    admin = make_user(Role.COUNTY, username="laggard_admin", county=counties[-1])
    issue_days(users, [dt.date(2021, 8, 2)])
    order = SupervisionOrder.objects.get(county=counties[-1])
    supervision.move(order, State.SIGNED, admin)
    supervision.move(order, State.REPLIED, admin, "已整改。")
    _, (third,) = issue_days(users, [dt.date(2021, 8, 3)])
    report = {r["unit"]: r for r in third.supervision_report}
    today = f"{timezone.localdate():%Y-%m-%d}"
    assert report[counties[-1].name]["state"] == "已回复" and report[counties[-1].name]["replied_on"] == today
    assert report[counties[-2].name]["state"] == "待签收" and report[counties[-2].name]["replied_on"] == ""
    client.force_login(users.city)
    page = client.get(f"/dashboard/bulletins/{third.pk}/").content.decode()
    assert "上期督办整改情况" in page and f"{counties[-1].name}：已回复，{today}回复。" in page
    doc = Document(io.BytesIO(client.get(f"/dashboard/bulletins/{third.pk}/?export=docx").content))
    texts = [p.text for p in doc.paragraphs]
    assert "上期督办整改情况：" in texts and f"{counties[-1].name}：已回复，{today}回复。" in texts
    # Frozen: a later step does not change what the issued bulletin reported.
    supervision.move(order, State.CLOSED, users.city)
    third.refresh_from_db()
    assert {r["unit"]: r["state"] for r in third.supervision_report}[counties[-1].name] == "已回复"
