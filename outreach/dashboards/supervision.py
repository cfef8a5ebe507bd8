"""督办单: opened at 签发 for the units at the bottom N issues running (or by hand), then 签收 → 回复（整改措施）
→ 办结, or 退回 for a better answer. Every step is a ``SupervisionStep`` (append-only: who, when, what); the
order keeps only its current state. Past the deadline an order not yet answered shows 逾期, and a reply after
the deadline is kept and marked late. Scoped like everything else (``scope_paths`` in ``apps.py``).
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outreach.accounts.models import Role, User
from outreach.dashboards.models import SupervisionOrder, SupervisionStep
from outreach.places.models import County, Town, Village

State = SupervisionOrder.State
OPEN_STATES = (State.WAITING, State.SIGNED, State.REPLIED, State.RETURNED)


class StepRefused(ValueError):
    """A step the order's state (or the user) does not allow; the message is Chinese."""


def streak_threshold() -> int:
    return getattr(settings, "DASHBOARD_BOTTOM_STREAK", 5)


def deadline_days() -> int:
    return getattr(settings, "SUPERVISION_DEADLINE_DAYS", 3)


def unit_admin(county, town=None, village=None):
    """Who must answer: the unit's own admin (a town's 乡镇管理员, a county's 县级管理员), else none yet."""
    users = User.objects.filter(is_active=True)
    if town is not None:
        users = users.filter(role=Role.TOWN, town=town)
    else:
        users = users.filter(role=Role.COUNTY, county=county, town__isnull=True)
    return users.order_by("pk").first()


def _place(code: str):
    """The county, town and village a bulletin line's 区划代码 names."""
    village = Village.objects.filter(code=code).select_related("town", "county").first()
    if village is not None:
        return village.county, village.town, village
    town = Town.objects.filter(code=code).select_related("county").first()
    if town is not None:
        return town.county, town, None
    return County.objects.get(code=code), None, None


@transaction.atomic
def open_order(*, code: str, reason: str, reason_text: str, user=None, bulletin=None, deadline=None, assignee=None):
    """Open a 督办单 for the unit of ``code`` (county, town or village) and record the first step."""
    county, town, village = _place(code)
    order = SupervisionOrder.objects.create(
        county=county,
        town=town,
        village=village,
        unit_name=(village or town or county).name,
        reason=reason,
        reason_text=reason_text[:300],
        bulletin=bulletin,
        deadline=deadline or timezone.localdate() + dt.timedelta(days=deadline_days()),
        assignee=assignee or unit_admin(county, town, village),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    SupervisionStep.objects.create(order=order, state=State.WAITING, actor=order.created_by, text=order.reason_text)
    return order


def open_for_bulletin(bulletin, user=None) -> list[SupervisionOrder]:
    """At 签发: one 督办单 for each unit whose bottom streak reaches N and has no order still open."""
    n = streak_threshold()
    opened = []
    for line in bulletin.lines.filter(bottom_streak__gte=n).order_by("position"):
        if (
            SupervisionOrder.objects.filter(bulletin__level=bulletin.level, unit_name=line.name)
            .filter(state__in=OPEN_STATES)
            .exists()
        ):
            continue
        opened.append(
            open_order(
                code=line.code,
                reason=SupervisionOrder.Reason.STREAK,
                reason_text=f"连续{line.bottom_streak}期排名后三（{bulletin.label}）",
                user=user,
                bulletin=bulletin,
            )
        )
    return opened


# state → the states it may move to, and who moves it: the unit (签收, 回复) or the issuer (办结, 退回).
MOVES = {
    State.SIGNED: ({State.WAITING}, "unit"),
    State.REPLIED: ({State.SIGNED, State.RETURNED}, "unit"),
    State.CLOSED: ({State.REPLIED}, "issuer"),
    State.RETURNED: ({State.REPLIED}, "issuer"),
}


def may_answer(user, order) -> bool:
    return user.is_superuser or order.assignee_id == user.pk or _is_unit_admin(user, order)


def may_judge(user, order) -> bool:
    if user.is_superuser or user.role == Role.CITY:
        return True
    return user.role == Role.COUNTY and user.county_id == order.county_id and order.town_id is not None


def _is_unit_admin(user, order) -> bool:
    if order.town_id is not None:
        return user.role == Role.TOWN and user.town_id == order.town_id
    return user.role == Role.COUNTY and user.county_id == order.county_id


@transaction.atomic
def move(order, to: str, user, text: str = "", attachment=None) -> SupervisionStep:
    """签收 / 回复 / 办结 / 退回 one order: checks the state and the user, records the step."""
    order = SupervisionOrder.objects.select_for_update().get(pk=order.pk)
    sources, who = MOVES[to]
    if order.state not in sources:
        raise StepRefused(f"督办单当前为“{order.get_state_display()}”，不能{State(to).label}")
    allowed = may_answer(user, order) if who == "unit" else may_judge(user, order)
    if not allowed:
        raise StepRefused("只有被督办单位可以签收和回复，只有督办单位可以办结或退回")
    if to == State.REPLIED and not text.strip():
        raise StepRefused("回复须写明整改措施")
    if to == State.RETURNED and not text.strip():
        raise StepRefused("退回须写明理由")
    late = to == State.REPLIED and timezone.localdate() > order.deadline
    step = SupervisionStep.objects.create(
        order=order, state=to, actor=user, text=text.strip(), attachment=attachment or "", late=late
    )
    order.state = to
    order.save(update_fields=["state", "updated_at"])
    return step


def report_for_next(series_previous) -> list[dict]:
    """上期督办整改情况: each order opened from the previous bulletin with its state and reply date."""
    if series_previous is None:
        return []
    rows = []
    for order in series_previous.orders.order_by("pk").prefetch_related("steps"):
        replies = [s for s in order.steps.all() if s.state == State.REPLIED]
        rows.append(
            {
                "unit": order.unit_name,
                "state": order.get_state_display() + ("（逾期）" if order.is_overdue else ""),
                "replied_on": f"{timezone.localdate(replies[-1].at):%Y-%m-%d}" if replies else "",
                "late": any(s.late for s in replies),
            }
        )
    return rows
