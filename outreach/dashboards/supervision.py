"""督办单: opened at 签发 for the units at the bottom N issues running (or by hand), then 签收 → 回复（整改措施）
→ 办结, or 退回 for a better answer. Every step is a ``SupervisionStep`` (append-only: who, when, what); the
order keeps only its current state. Past the deadline an order not yet answered shows 逾期; a reply after the
deadline is still taken (the unit must answer whatever the date) and the step is marked late, shown as
逾期回复 on the pages, the export and the next bulletin. Scoped like everything else (``scope_paths`` in
``apps.py``).

Who does what: the unit (its 乡镇管理员 for a town or a village, its 县级管理员 for a county, or the named
须回复人) signs and replies; the level above (the city for a county, the county for its towns and villages)
opens by hand, closes and returns. A resent form never doubles a step: ``move`` is given the last step the
sender saw, and a step by the same person saying the same thing since then is the resend's answer.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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


def open_order_of(county, town=None, village=None):
    """The unit's order still open (not 已办结), however it was opened, or ``None``."""
    return (
        SupervisionOrder.objects.filter(county=county, town=town, village=village, state__in=OPEN_STATES)
        .order_by("pk")
        .first()
    )


def open_for_bulletin(bulletin, user=None) -> list[SupervisionOrder]:
    """At 签发: one 督办单 for each unit whose bottom streak reaches N and has no order still open."""
    n = streak_threshold()
    opened = []
    for line in bulletin.lines.filter(bottom_streak__gte=n).order_by("position"):
        if open_order_of(*_place(line.code)) is not None:
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


def may_open(user, county_id, below_county: bool) -> bool:
    """The issuer level of a unit: the city for a county, the county's admin for its towns and villages
    (``below_county``). The issuer opens by hand, closes and returns."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or user.role == Role.CITY:
        return True
    return user.role == Role.COUNTY and user.county_id == county_id and below_county


def may_judge(user, order) -> bool:
    return may_open(user, order.county_id, order.town_id is not None)


def _is_unit_admin(user, order) -> bool:
    if order.town_id is not None:
        return user.role == Role.TOWN and user.town_id == order.town_id
    return user.role == Role.COUNTY and user.county_id == order.county_id


@transaction.atomic
def move(order, to: str, user, text: str = "", attachment=None, seen_step: int | None = None) -> SupervisionStep:
    """签收 / 回复 / 办结 / 退回 one order: checks the state and the user, records the step.

    ``seen_step`` is the last step the sender's page showed. When steps came after it, the move is either a
    resend (a step since then by the same user, to the same state, with the same text: that step is
    returned, ``resent`` set, nothing written and no file stored) or made on an outdated page (refused).
    """
    order = SupervisionOrder.objects.select_for_update().get(pk=order.pk)
    if to not in MOVES:
        raise StepRefused("没有这个办理步骤")
    text = (text or "").strip()
    if seen_step is not None:
        since = list(order.steps.filter(pk__gt=seen_step).order_by("pk"))
        if since:
            for step in since:
                if step.actor_id == user.pk and step.state == to and step.text == text:
                    step.resent = True
                    return step
            raise StepRefused(
                f"督办单在您打开页面后已有新的办理记录（现为“{order.get_state_display()}”），请查看后再操作"
            )
    sources, who = MOVES[to]
    if order.state not in sources:
        raise StepRefused(f"督办单当前为“{order.get_state_display()}”，不能{State(to).label}")
    allowed = may_answer(user, order) if who == "unit" else may_judge(user, order)
    if not allowed:
        raise StepRefused("只有被督办单位可以签收和回复，只有督办单位可以办结或退回")
    if to == State.REPLIED and not text:
        raise StepRefused("回复须写明整改措施")
    if to == State.RETURNED and not text:
        raise StepRefused("退回须写明理由")
    if attachment and to != State.REPLIED:
        raise StepRefused("只有回复整改措施时可以附文件")
    late = to == State.REPLIED and timezone.localdate() > order.deadline
    step = SupervisionStep.objects.create(
        order=order, state=to, actor=user, text=text, attachment=attachment or "", late=late
    )
    order.state = to
    order.save(update_fields=["state", "updated_at"])
    step.resent = False
    return step


@transaction.atomic
def open_by_hand(user, *, code: str, reason_text: str, deadline: dt.date, bulletin=None) -> SupervisionOrder:
    """人工督办: the issuer level opens an order for a unit picked from a ranking row or a bulletin line.

    Refused (``StepRefused``) for a user below the unit's issuer level, a past deadline, an empty reason and
    a unit that still has an open order (which also makes a resent form harmless).
    """
    county, town, village = _place(code)
    unit = village or town or county
    # One opening at a time per unit: two resends queue on the unit's row (there is no order row to lock yet).
    list(type(unit).objects.select_for_update().filter(pk=unit.pk))
    if not may_open(user, county.pk, town is not None):
        raise StepRefused("只有上一级（县级单位由市级、乡镇和村由本县）可以发出督办单")
    reason_text = (reason_text or "").strip()
    if not reason_text:
        raise StepRefused("请写明督办原因")
    if deadline < timezone.localdate():
        raise StepRefused("整改期限不能早于今天")
    existing = open_order_of(county, town, village)
    if existing is not None:
        raise StepRefused(f"{existing.unit_name}已有未办结的督办单（{existing.get_state_display()}），不再重复发出")
    return open_order(
        code=code,
        reason=SupervisionOrder.Reason.MANUAL,
        reason_text=reason_text,
        user=user,
        bulletin=bulletin,
        deadline=deadline,
    )


# ------------------------------------------------------------------------------------------ reading


LEVELS = {"county": "县（市、区）", "town": "乡镇（街道）", "village": "村（社区）"}


def level_of(order) -> str:
    if order.village_id is not None:
        return "village"
    return "town" if order.town_id is not None else "county"


def level_q(level: str) -> Q:
    if level == "village":
        return Q(village__isnull=False)
    if level == "town":
        return Q(town__isnull=False, village__isnull=True)
    return Q(town__isnull=True)


def overdue_q(today: dt.date | None = None) -> Q:
    """The orders ``is_overdue`` names, as a filter: past the deadline and neither answered nor closed."""
    today = today or timezone.localdate()
    return Q(deadline__lt=today) & ~Q(state__in=(State.REPLIED, State.CLOSED))


def awaiting_q(user) -> Q | None:
    """The orders waiting for ``user``: to sign or answer as the unit, to close or return as the issuer.
    ``None`` for a user who never acts on an order (grid workers, party members)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    to_answer = Q(state__in=(State.WAITING, State.SIGNED, State.RETURNED))
    to_judge = Q(state=State.REPLIED)
    if user.is_superuser or user.role == Role.CITY:
        return (to_answer & Q(assignee=user)) | to_judge
    if user.role == Role.COUNTY:
        unit = Q(town__isnull=True, county_id=user.county_id)
        return (to_answer & (unit | Q(assignee=user))) | (to_judge & Q(county_id=user.county_id, town__isnull=False))
    if user.role == Role.TOWN:
        unit = Q(town_id=user.town_id) if user.town_id else Q(pk__in=[])
        return to_answer & (unit | Q(assignee=user))
    return None


def awaiting_count(user) -> int | None:
    """How many orders wait for ``user`` (one COUNT), or ``None`` for a user who never acts on one."""
    q = awaiting_q(user)
    if q is None:
        return None
    return SupervisionOrder.objects.filter(q).count()


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
