"""督办 pages: the list (filters, .xlsx), 我的督办, an order with its steps and the forms for the next step,
an attachment's download, and a 督办单 opened by hand from a ranking row or a bulletin line.

Every order is reached through ``scope_queryset`` (outside the user's area: 404, as for a missing one);
the state machine and who may move it live in ``supervision``. Steps are POST only (CSRF as everywhere),
answered with a redirect, and a resent form never records a step twice (``seen_step``).
"""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_tables2 import RequestConfig
from django_tables2.paginators import LazyPaginator

from outreach.accounts.models import AccessLog
from outreach.accounts.scoping import get_in_scope_or_404, scope_queryset
from outreach.accounts.services import record_access
from outreach.dashboards import supervision
from outreach.dashboards.forms import OpenOrderForm, StepForm, SupervisionFilterForm
from outreach.dashboards.models import SupervisionOrder, SupervisionStep
from outreach.dashboards.tables import SuperviseColumn, SupervisionOrderTable
from outreach.lib import xlsx
from outreach.places.models import County, Town, Village

State = SupervisionOrder.State
PER_PAGE = 50
DONE = {
    State.SIGNED: "已签收",
    State.REPLIED: "已回复整改措施",
    State.CLOSED: "已办结",
    State.RETURNED: "已退回，待被督办单位重新回复",
}


def _orders(user):
    """The orders ``user`` may read: the view permission first (403 for every order alike), then the area."""
    if not user.has_perm("dashboards.view_supervisionorder"):
        raise PermissionDenied("没有查看督办单的权限")
    return scope_queryset(user, SupervisionOrder.objects.all()).select_related(
        "county", "town", "village", "bulletin", "assignee", "created_by"
    )


def _order_or_404(request, pk):
    return get_in_scope_or_404(request.user, _orders(request.user), pk=pk)


def _table(request, queryset):
    table = SupervisionOrderTable(queryset, order_by_field="sort")
    RequestConfig(request, paginate={"paginator_class": LazyPaginator, "per_page": PER_PAGE}).configure(table)
    return table


@login_required
def supervision_list(request):
    filters = SupervisionFilterForm(request.GET or None)
    orders = filters.filter(_orders(request.user))
    if request.GET.get("export") == "xlsx":
        return _export(request, orders, filters)
    query = request.GET.copy()
    query["export"] = "xlsx"
    query.pop("page", None)
    return render(
        request,
        "dashboards/supervision_list.html",
        {
            "title": "督办单",
            "table": _table(request, orders),
            "filters": filters,
            "export_url": f"?{query.urlencode()}",
        },
    )


@login_required
def supervision_mine(request):
    """我的督办: the orders waiting for this user, to sign and answer as the unit or to judge as the issuer."""
    q = supervision.awaiting_q(request.user)
    orders = _orders(request.user)
    orders = orders.filter(q) if q is not None else orders.none()
    return render(
        request,
        "dashboards/supervision_mine.html",
        {"title": "我的督办", "table": _table(request, orders)},
    )


EXPORT_COLUMNS = [
    xlsx.Column("编号", kind="number"),
    xlsx.Column("督办单位", kind="text"),
    xlsx.Column("层级", kind="text"),
    xlsx.Column("县（市、区）", kind="text"),
    xlsx.Column("乡镇（街道）", kind="text", missing="—"),
    xlsx.Column("督办原因", kind="text"),
    xlsx.Column("原因说明", kind="text"),
    xlsx.Column("来源通报", kind="text", missing="—"),
    xlsx.Column("整改期限", kind="date"),
    xlsx.Column("状态", kind="text"),
    xlsx.Column("逾期", kind="auto"),
    xlsx.Column("须回复人", kind="text", missing="—"),
    xlsx.Column("督办人", kind="text", missing="—"),
    xlsx.Column("督办时间", kind="datetime"),
    xlsx.Column("最近回复时间", kind="datetime", missing="—"),
    xlsx.Column("逾期回复", kind="auto"),
    xlsx.Column("整改措施（最近回复）", kind="text", missing="—", width=50),
    xlsx.Column("办结时间", kind="datetime", missing="—"),
]


def _export_rows(orders):
    for order in orders:
        steps = order.steps.all()
        replies = [s for s in steps if s.state == State.REPLIED]
        closed = [s for s in steps if s.state == State.CLOSED]
        last = replies[-1] if replies else None
        yield [
            order.pk,
            order.unit_name,
            supervision.LEVELS[supervision.level_of(order)],
            order.county.name,
            order.town.name if order.town_id else None,
            order.get_reason_display(),
            order.reason_text,
            order.bulletin.label if order.bulletin_id else None,
            order.deadline,
            order.get_state_display(),
            order.is_overdue,
            str(order.assignee) if order.assignee_id else None,
            str(order.created_by) if order.created_by_id else None,
            order.created_at,
            last.at if last else None,
            any(s.late for s in replies),
            last.text if last else None,
            closed[-1].at if closed else None,
        ]


def _export(request, orders, filters):
    orders = list(orders.order_by("-created_at", "-pk").prefetch_related(Prefetch("steps")))
    today = timezone.localdate()
    filename = f"督办单_{today:%Y%m%d}.xlsx"
    body = xlsx.workbook_bytes(
        EXPORT_COLUMNS,
        _export_rows(orders),
        title_rows=["督办单", f"导出日期：{today:%Y-%m-%d}；筛选：{filters.describe()}"],
        sheet="督办单",
    )
    record_access(request.user, AccessLog.Kind.EXPORT, "督办单", rows=len(orders), filename=filename, request=request)
    return xlsx.response(body, filename)


# ------------------------------------------------------------------------------------------ one order


def _detail_context(request, order, form=None) -> dict:
    user = request.user
    steps = list(order.steps.select_related("actor").order_by("at", "pk"))
    for step in steps:
        step.file_name = Path(step.attachment.name).name if step.attachment else ""
    answers = supervision.may_answer(user, order) and user.has_perm("dashboards.add_supervisionstep")
    judges = supervision.may_judge(user, order) and user.has_perm("dashboards.add_supervisionstep")
    return {
        "title": f"督办单：{order.unit_name}",
        "order": order,
        "level": supervision.LEVELS[supervision.level_of(order)],
        "steps": steps,
        "seen_step": steps[-1].pk if steps else "",
        "can_sign": answers and order.state == State.WAITING,
        "can_reply": answers and order.state in (State.SIGNED, State.RETURNED),
        "can_judge": judges and order.state == State.REPLIED,
        "late_now": timezone.localdate() > order.deadline,
        "form": form or StepForm(),
    }


@login_required
def supervision_detail(request, supervisionorder_pk: int):
    order = _order_or_404(request, supervisionorder_pk)
    return render(request, "dashboards/supervision_detail.html", _detail_context(request, order))


@login_required
def supervision_move(request, supervisionorder_pk: int):
    """签收 / 回复 / 办结 / 退回 (POST): refused moves come back as a Chinese message on the order's page."""
    order = _order_or_404(request, supervisionorder_pk)  # 404 outside the area, whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.user.has_perm("dashboards.add_supervisionstep"):
        raise PermissionDenied("没有办理督办单的权限")
    form = StepForm(request.POST, request.FILES)
    if not form.is_valid():
        context = _detail_context(request, order, form)
        return render(request, "dashboards/supervision_detail.html", context, status=400)
    data = form.cleaned_data
    try:
        step = supervision.move(
            order,
            data["to"],
            request.user,
            text=data["text"],
            attachment=data["attachment"],
            seen_step=data["seen_step"],
        )
    except supervision.StepRefused as exc:
        messages.error(request, str(exc))
    else:
        done = DONE[State(data["to"])]
        if step.late:
            done += "（已过整改期限，记为逾期回复）"
        if step.resent:
            done += "（此前已提交，未重复记录）"
        messages.success(request, done)
    return redirect("dashboards:supervision_detail", supervisionorder_pk=order.pk)


@login_required
def supervision_attachment(request, supervisionstep_pk: int):
    """A reply's attachment, only inside the area and logged like an export."""
    if not request.user.has_perm("dashboards.view_supervisionstep"):
        raise PermissionDenied("没有查看督办单的权限")
    step = get_in_scope_or_404(request.user, SupervisionStep.objects.select_related("order"), pk=supervisionstep_pk)
    if not step.attachment:
        raise Http404("这条记录没有附件")
    try:
        handle = step.attachment.open("rb")
    except FileNotFoundError as exc:
        raise Http404("附件文件不存在") from exc
    name = Path(step.attachment.name).name
    record_access(
        request.user,
        AccessLog.Kind.EXPORT,
        "督办附件",
        rows=1,
        filename=name,
        detail=f"督办单{step.order_id}（{step.order.unit_name}）第{step.pk}号记录",
        request=request,
    )
    return FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")


# ------------------------------------------------------------------------------------------ by hand


def _unit_in_scope(user, code: str):
    """(county, town, village) of the unit whose 区划代码 is ``code``, inside ``user``'s area, else 404."""
    code = (code or "").strip()
    for model in (Village, Town, County):
        found = scope_queryset(user, model.objects.filter(code=code)).first() if code else None
        if found is not None:
            if isinstance(found, Village):
                return found.county, found.town, found
            if isinstance(found, Town):
                return found.county, found, None
            return found, None, None
    raise Http404("没有找到该单位")


def _bulletin_line(user, bulletin_pk, code):
    """The bulletin (visible to ``user``) and its line for ``code``, or (None, None) without a bulletin."""
    if not bulletin_pk:
        return None, None
    from outreach.dashboards.views import _bulletins_for

    try:
        bulletin = _bulletins_for(user).get(pk=bulletin_pk)
        return bulletin, bulletin.lines.get(code=code)
    except (ObjectDoesNotExist, ValueError) as exc:
        raise Http404("没有找到该通报行") from exc


@login_required
def supervision_open(request):
    """人工督办 from a ranking row (``?code=…&why=…``) or a bulletin line (``?code=…&bulletin=…``)."""
    source = request.POST if request.method == "POST" else request.GET
    if not source.get("code"):
        messages.error(request, "请从排名或通报中选择要督办的单位")
        return redirect("dashboards:supervision_list")
    county, town, village = _unit_in_scope(request.user, source.get("code"))
    unit = village or town or county
    if not (
        request.user.has_perm("dashboards.add_supervisionorder")
        and supervision.may_open(request.user, county.pk, town is not None)
    ):
        raise PermissionDenied("只有上一级（县级单位由市级、乡镇和村由本县）可以发出督办单")
    bulletin, line = _bulletin_line(request.user, source.get("bulletin"), unit.code)
    existing = supervision.open_order_of(county, town, village)
    if request.method == "POST":
        form = OpenOrderForm(request.POST)
        if form.is_valid():
            try:
                order = supervision.open_by_hand(
                    request.user,
                    code=unit.code,
                    reason_text=form.cleaned_data["reason_text"],
                    deadline=form.cleaned_data["deadline"],
                    bulletin=bulletin,
                )
            except supervision.StepRefused as exc:
                messages.error(request, str(exc))
                target = supervision.open_order_of(county, town, village)
                if target is not None:
                    return redirect("dashboards:supervision_detail", supervisionorder_pk=target.pk)
            else:
                messages.success(request, f"已对{order.unit_name}发出督办单，整改期限{order.deadline:%Y-%m-%d}")
                return redirect("dashboards:supervision_detail", supervisionorder_pk=order.pk)
    else:
        if line is not None:
            why = f"{bulletin.label}通报（{bulletin.title}）中排名第{line.rank or '—'}名"
            if line.bottom_streak > 1:
                why += f"，连续{line.bottom_streak}期排名后三"
        else:
            why = (request.GET.get("why") or "").strip()[:300]
        form = OpenOrderForm(
            initial={
                "code": unit.code,
                "bulletin": getattr(bulletin, "pk", None),
                "reason_text": why,
                "deadline": OpenOrderForm.default_deadline(),
            }
        )
    return render(
        request,
        "dashboards/supervision_open.html",
        {
            "title": f"督办：{unit.name}",
            "unit": unit,
            "level": supervision.LEVELS["village" if village else "town" if town else "county"],
            "assignee": supervision.unit_admin(county, town, village),
            "bulletin": bulletin,
            "existing": existing,
            "form": form,
        },
    )


# The ranking levels whose rows are units a 督办单 can name (not zones, party organisations or grids).
RANKED_UNITS = ("county", "town", "village")


def supervise_columns(user, level: str, parent, rows, as_of, metric, title: str) -> list:
    """The 督办 column of a ranking page, for the rows' issuer level only (else no column): each row gets
    a link to open a 督办单, or to its order still open (one query for all rows)."""
    if level not in RANKED_UNITS:
        return []
    county_id = None if level == "county" else parent.pk if level == "town" else parent.county_id
    if not supervision.may_open(user, county_id, below_county=level != "county"):
        return []  # asked before the permission: a role that may not open costs no query
    if not user.has_perm("dashboards.add_supervisionorder"):
        return []
    pks = [row["pk"] for row in rows if row.get("pk") is not None]
    orders = SupervisionOrder.objects.filter(state__in=supervision.OPEN_STATES, **{f"{level}_id__in": pks})
    if level == "county":
        orders = orders.filter(town__isnull=True)
    elif level == "town":
        orders = orders.filter(village__isnull=True)
    open_by_unit = dict(orders.order_by("pk").values_list(f"{level}_id", "pk"))
    ranked = sum(1 for row in rows if row.get("rank") is not None)
    open_url = reverse("dashboards:supervision_open")
    for row in rows:
        if not row.get("code"):
            continue
        if row["pk"] in open_by_unit:
            row["supervise_url"] = reverse("dashboards:supervision_detail", args=[open_by_unit[row["pk"]]])
            row["supervise_label"] = "督办中"
            continue
        why = (
            f"{as_of:%Y-%m-%d} {title}（{metric.name}）第{row['rank']}名（共{ranked}个单位）"
            if row.get("rank")
            else f"{as_of:%Y-%m-%d} {title}（{metric.name}）无数据"
        )
        row["supervise_url"] = open_url + "?" + urlencode({"code": row["code"], "why": why})
        row["supervise_label"] = "督办"
        row["supervise_new"] = True
    return [("supervise", SuperviseColumn())]
