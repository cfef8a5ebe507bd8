"""督办 in the shared page parts: the header's 我的督办 with its count, and the 人工督办 buttons of a bulletin."""

from django import template
from django.urls import reverse
from django.utils.http import urlencode

from outreach.dashboards import supervision
from outreach.dashboards.models import SupervisionOrder

register = template.Library()


@register.inclusion_tag("dashboards/_supervision_nav.html", takes_context=True)
def supervision_nav(context):
    """我的督办 for users who may read orders, with how many wait for them (one COUNT query)."""
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated or not user.has_perm("dashboards.view_supervisionorder"):
        return {"show": False}
    return {"show": True, "count": supervision.awaiting_count(user)}


@register.inclusion_tag("dashboards/_bulletin_supervise.html", takes_context=True)
def bulletin_supervise(context, bulletin):
    """Each line of an issued bulletin with a 督办 button, for the bulletin's issuer level only; a unit
    with an order still open leads to that order instead (one query for all lines)."""
    user = getattr(context.get("request"), "user", None)
    town_level = bulletin.parent_county_id is not None
    if (
        user is None
        or not user.has_perm("dashboards.add_supervisionorder")
        or not supervision.may_open(user, bulletin.parent_county_id, below_county=town_level)
    ):
        return {"lines": []}
    lines = list(bulletin.lines.order_by("position"))
    codes = [line.code for line in lines]
    if town_level:
        orders = SupervisionOrder.objects.filter(town__code__in=codes, village__isnull=True).values_list(
            "town__code", "pk"
        )
    else:
        orders = SupervisionOrder.objects.filter(county__code__in=codes, town__isnull=True).values_list(
            "county__code", "pk"
        )
    open_orders = dict(orders.filter(state__in=supervision.OPEN_STATES).order_by("pk"))
    shown = []
    for line in lines:
        if line.code in open_orders:
            url, label = reverse("dashboards:supervision_detail", args=[open_orders[line.code]]), "督办中"
        else:
            query = urlencode({"code": line.code, "bulletin": bulletin.pk})
            url, label = f"{reverse('dashboards:supervision_open')}?{query}", "督办"
        shown.append({"line": line, "url": url, "label": label, "new": label == "督办"})
    return {"lines": shown}
