"""The phone pages at /m/ (我的包联户, a household, 记录走访), the visit JSON endpoint and the review pages.

All JavaScript lives in ``static/mobile/``; templates carry data in ``data-*`` attributes only.
"""

import json
from functools import lru_cache, wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from outreach.accounts.models import AccessLog
from outreach.accounts.permissions import ROLE_PERMISSIONS
from outreach.accounts.privacy import display_phone
from outreach.accounts.scoping import get_in_scope_or_404
from outreach.accounts.services import record_access
from outreach.campaigns.rules import page_campaign, visit_campaign
from outreach.lib.parse import Unparsable, parse_id
from outreach.mobile import queries, services
from outreach.mobile.models import CallbackCheck
from outreach.people.models import Household, PartyMember
from outreach.visits.models import FraudType
from outreach.visits.services import ClientIdTaken, VisitRefused

LOGIN_URL = reverse_lazy("mobile:login")
mobile_login_required = login_required(login_url=LOGIN_URL)


class MobileLoginView(auth_views.LoginView):
    """Django's own login (``authenticate`` gets the request, so a lockout library sees every try)."""

    template_name = "mobile/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("mobile:home")


class MobileLogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("mobile:login")


def _may_record(user) -> bool:
    # The role table, not user.has_perm: has_perm costs two queries a request on the hot path.
    return user.is_superuser or "visits.add_visit" in ROLE_PERMISSIONS.get(user.role, ())


def _posted_check(request) -> int | None:
    """The call-back check a review form names; nothing usable finds nothing (a 404), never a 500."""
    try:
        return parse_id(request.POST.get("check"))
    except Unparsable:
        return None


def _page_number(value) -> int:
    try:
        return max(1, min(int(value), 10_000))
    except (TypeError, ValueError):
        return 1


def _visit_choice(user, household):
    """The campaign a visit by ``user`` to ``household`` today would be recorded for (the rule, shown)."""
    visitor_id = PartyMember.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
    return visit_campaign(household, timezone.localdate(), visitor_id=visitor_id)


@mobile_login_required
def home(request):
    """我的包联户: the user's households, vulnerable first, with search and an unvisited filter."""
    campaign = page_campaign(request.user.county, timezone.localdate()).campaign
    q = request.GET.get("q", "")[:30]
    unvisited = request.GET.get("unvisited") == "1"
    page = queries.my_households(
        request.user, campaign, q=q, unvisited=unvisited, page=_page_number(request.GET.get("page"))
    )
    return render(
        request,
        "mobile/home.html",
        {"campaign": campaign, "q": q, "unvisited": unvisited, "page": page},
    )


@mobile_login_required
def household(request, pk):
    """One household: who lives there, earlier visits and what is still missing."""
    obj = get_in_scope_or_404(request.user, Household.objects.select_related("village", "grid"), pk=pk)
    choice = _visit_choice(request.user, obj)
    context = queries.household_detail(request.user, obj, choice.campaign)
    context["campaign"] = choice.campaign
    context["may_record"] = _may_record(request.user)
    return render(request, "mobile/household.html", context)


@mobile_login_required
def visit_form(request, pk):
    """记录走访: the form the phone fills; ``static/mobile/app.js`` queues it and posts it as JSON."""
    if not _may_record(request.user):
        raise PermissionDenied
    obj = get_in_scope_or_404(request.user, Household.objects.select_related("village"), pk=pk)
    choice = _visit_choice(request.user, obj)
    return render(
        request,
        "mobile/visit_form.html",
        {
            "household": obj,
            "phone": display_phone(request.user, obj.phone),
            "campaign": choice.campaign,
            "choice": choice,
            "residents": list(obj.residents.all()),
            "fraud_types": list(FraudType.objects.filter(is_active=True)),
            "materials": [
                ("left_brochure", "宣传册"),
                ("left_letter", "致全县人民群众的一封信"),
                ("left_pledge", "承诺书"),
            ],
            "checks": [
                ("entered", "真入户", "进了住户家门"),
                ("met_person", "真人见", "见到了住户本人或家人"),
                ("explained", "真讲解", "讲解了常见诈骗手法"),
                ("signed", "真签名", "住户签了承诺书"),
            ],
        },
    )


def json_method_not_allowed(view):
    """Answer ``require_POST``'s 405 in JSON, keeping its ``Allow`` header.

    Django's ``require_POST`` answers a wrong method with ``HttpResponseNotAllowed``: an empty text/html body
    (and a "Method Not Allowed" warning in the log). The phone reads ``errors`` from every answer, so this
    wraps the decorated view and swaps that one response for the API's JSON shape; everything else passes.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = JsonResponse({"ok": False, "errors": {"__all__": [f"只接受 {allowed}"]}}, status=405)
            response["Allow"] = allowed
        return response

    return wrapper


@json_method_not_allowed
@require_POST
def visit_api(request):
    """POST one visit as JSON (see docs/mobile.md). Idempotent on ``client_id``: 201 new, 200 already stored.

    Answers JSON in every case: 405 not a POST (``require_POST``, its answer made JSON), 401 not logged in,
    403 not allowed, 404 household out of scope, 400 with Chinese messages per field (``forms.VisitForm``),
    409 when the client id names another visit, 413 too big.
    """
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"ok": False, "login": True, "errors": {"__all__": ["登录已过期，请重新登录"]}}, status=401)
    if not _may_record(user):
        return JsonResponse({"ok": False, "errors": {"__all__": ["您的账号不能记录走访"]}}, status=403)
    # Read the stream ourselves (a JSON body is not parsed by Django): a photo may pass the form-upload limit.
    limit = settings.MOBILE_MAX_VISIT_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = request.read(limit + 1) if length <= limit else b""
    if length > limit or len(raw) > limit:
        return JsonResponse({"ok": False, "errors": {"__all__": ["提交的内容太大（照片请小于2MB）"]}}, status=413)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"ok": False, "errors": {"__all__": ["提交的内容无法识别，请刷新页面后重试"]}}, status=400)
    try:
        visit, created = services.submit_visit(user, data)
    except services.VisitRejected as exc:
        return JsonResponse({"ok": False, "errors": exc.errors}, status=400)
    except ClientIdTaken as exc:
        # The phone gives the visit a fresh client id and sends it again (static/mobile/outbox.js).
        return JsonResponse({"ok": False, "conflict": True, "errors": {exc.field: [exc.message]}}, status=409)
    except VisitRefused as exc:
        return JsonResponse({"ok": False, "errors": {exc.field: [exc.message]}}, status=400)
    except Http404:
        return JsonResponse(
            {"ok": False, "errors": {"household": ["没有找到该住户，或不在您的包联范围内"]}}, status=404
        )
    return JsonResponse(
        {"ok": True, "created": created, "id": visit.pk, "client_id": str(visit.client_id)},
        status=201 if created else 200,
    )


@lru_cache(maxsize=1)
def _service_worker_source() -> str:
    path = finders.find("mobile/sw.js")
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def service_worker(request):
    """The service worker, served from /m/ so it may control the phone pages; it learns the hashed
    static URLs from its query string (the page registers it with them)."""
    response = HttpResponse(_service_worker_source(), content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/m/"
    return response


def offline(request):
    """Shown by the service worker for a page that was never opened while online."""
    return render(request, "mobile/offline.html")


# ---------------------------------------------------------------------------------------------------------
# Review pages for county and town staff


def _may_review(user) -> bool:
    return user.has_perm("mobile.change_callbackcheck")


@mobile_login_required
@never_cache
def callbacks(request):
    """回访抽查: draw a sample per worker, record the answers, see each worker's confirmed share."""
    if not _may_review(request.user):
        raise PermissionDenied
    revealed = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "draw":
            per_worker = _page_number(request.POST.get("per_worker") or 3)
            since = _date(request.POST.get("since"))
            until = _date(request.POST.get("until"))
            drawn = services.draw_callback_sample(
                request.user, per_worker=min(per_worker, 50), since=since, until=until
            )
            messages.success(request, f"已抽取{drawn}条走访记录待回访")
            return redirect("mobile:callbacks")
        if action == "answer":
            try:
                services.record_callback_result(
                    request.user,
                    _posted_check(request),
                    request.POST.get("result", ""),
                    request.POST.get("note", ""),
                )
            except ValueError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, "已记录回访结果")
            return redirect("mobile:callbacks")
        if action == "reveal":
            check = get_in_scope_or_404(
                request.user,
                CallbackCheck.objects.select_related("visit__household"),
                pk=_posted_check(request),
            )
            record_access(
                request.user,
                AccessLog.Kind.REVEAL,
                "住户",
                rows=1,
                detail=f"回访抽查：{check.visit.household}",
                request=request,
            )
            revealed = check.pk
    pending = queries.pending_callbacks(request.user)
    rows = [
        {
            "check": check,
            "phone": check.visit.household.phone
            if check.pk == revealed
            else display_phone(request.user, check.visit.household.phone),
            "revealed": check.pk == revealed,
        }
        for check in pending
    ]
    return render(
        request,
        "mobile/callbacks.html",
        {
            "workers": queries.worker_confirmation(request.user),
            "pending": rows,
            "results": [c for c in CallbackCheck.Result.choices if c[0] != CallbackCheck.Result.PENDING],
            "today": timezone.localdate(),
        },
    )


def _date(value):
    try:
        return parse_date(value or "")
    except ValueError:
        return None
