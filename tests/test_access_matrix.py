"""The URL × role matrix: every admin page and every named page of our apps, for users of two counties,
towns and grids. Inside the user's area 200, outside 404, without the permission 403, never a 500.

URLs are discovered, not listed: the admin registry gives each model's changelist, add, change, delete,
history, reveal and autocomplete URLs; the project's URL patterns give every other page, so pages that
other areas add (phone pages, dashboards, import jobs) are covered as soon as they are routed.
"""

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from outreach.accounts.models import User
from outreach.accounts.scoping import SCOPE_PATHS, UNSCOPED, manageable_users, scope_queryset
from tests.scope_world import build_world

pytestmark = pytest.mark.django_db

ROLES = ["city", "county", "other_county", "town", "other_town", "grid", "other_grid", "member"]
MODEL_ADMINS = {m: a for m, a in admin.site._registry.items() if m.__module__.startswith("outreach.")}


@pytest.fixture
def world(places, users):
    return build_world(places, users)


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _inside_and_outside(user, model):
    if model is User:
        # Accounts: in the area *and* below the user's level (a county admin never reaches a county admin).
        visible = manageable_users(user, User.objects.all())
    else:
        visible = scope_queryset(user, model._default_manager.all())
    inside = visible.order_by("pk").first()
    outside = model._default_manager.exclude(pk__in=visible.values("pk")).order_by("pk").first()
    return inside, outside


def _get(client, url, expected, what):
    expected = expected if isinstance(expected, tuple) else (expected,)
    response = client.get(url)
    assert response.status_code in expected, f"{what}: {url} answered {response.status_code}, expected {expected}"
    return response


# Without the permission, Django answers 403 or, where it looks the record up first, 404: never a 200.
DENIED = (403, 404)


@pytest.mark.parametrize("role", ROLES)
def test_it_answers_every_admin_url_by_scope_and_permission(role, world, users, client, rf):
    user = getattr(users, role)
    client.force_login(user)
    request = rf.get("/")
    request.user = user
    for model, model_admin in MODEL_ADMINS.items():
        label = f"{role} {model._meta.label}"
        view = model_admin.has_view_or_change_permission(request)
        _get(client, _url(model, "changelist"), 200 if view else 403, label)
        _get(client, _url(model, "add"), 200 if model_admin.has_add_permission(request) else 403, label)
        if model._meta.label not in SCOPE_PATHS and model._meta.label not in UNSCOPED:
            # Not domain data (the access log, job tables of other areas): their admins decide; never a 500.
            continue
        inside, outside = _inside_and_outside(user, model)
        if view and model._meta.label in SCOPE_PATHS:
            assert inside is not None, f"{label}: the world has nothing in scope"
        if inside is not None:
            _get(client, _url(model, "change", inside.pk), 200 if view else 403, label)
            _get(client, _url(model, "history", inside.pk), 200 if view else 403, label)
            if model is User:
                changes = model_admin.has_change_permission(request)
                _get(
                    client,
                    reverse("admin:auth_user_password_change", args=[inside.pk]),
                    200 if changes else DENIED,
                    label,
                )
            if getattr(model_admin, "phone_fields", ()):
                _get(client, _url(model, "reveal_phone", inside.pk), 200 if view else 403, label)
        if outside is not None:
            # Outside the area: the same 404 whether the record exists or not.
            deletable = model_admin.has_delete_permission(request)
            _get(client, _url(model, "change", outside.pk), 404 if view else DENIED, label)
            _get(client, _url(model, "history", outside.pk), 404 if view else DENIED, label)
            _get(client, _url(model, "delete", outside.pk), 404 if deletable else DENIED, label)
            if model is User:
                _get(client, reverse("admin:auth_user_password_change", args=[outside.pk]), (403, 404), label)
            if getattr(model_admin, "phone_fields", ()):
                _get(client, _url(model, "reveal_phone", outside.pk), 404 if view else DENIED, label)
        _get(client, _url(model, "change", 987654321), 404 if view else DENIED, label)


def test_it_lets_only_city_admins_open_the_access_log(world, users, client):
    url = reverse("admin:accounts_accesslog_changelist")
    for role in ROLES:
        client.force_login(getattr(users, role))
        _get(client, url, 200 if role == "city" else 403, role)


@pytest.mark.parametrize("role", ROLES)
def test_it_answers_autocomplete_with_only_records_in_scope(role, world, users, client, rf):
    user = getattr(users, role)
    client.force_login(user)
    request = rf.get("/")
    request.user = user
    checked = 0
    for model, model_admin in MODEL_ADMINS.items():
        for field_name in model_admin.autocomplete_fields:
            field = model._meta.get_field(field_name)
            related = field.related_model
            url = reverse("admin:autocomplete")
            params = {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field_name,
            }
            response = client.get(url, params)
            label = f"{role} {model._meta.label}.{field_name}"
            if not admin.site._registry[related].has_view_permission(request):
                assert response.status_code == 403, label
                continue
            assert response.status_code == 200, label
            returned = {int(r["id"]) for r in response.json()["results"]}
            allowed = set(scope_queryset(user, related._default_manager.all()).values_list("pk", flat=True))
            assert returned <= allowed, f"{label} leaks {returned - allowed}"
            checked += 1
    assert checked or role == "member"


def _project_patterns(resolvers=None, prefix=""):
    """(route, pattern) of every URL pattern of our apps outside the admin."""
    resolvers = get_resolver().url_patterns if resolvers is None else resolvers
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            if getattr(entry, "app_name", None) == "admin" or getattr(entry, "namespace", None) == "admin":
                continue
            yield from _project_patterns(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            module = getattr(entry.callback, "__module__", "") or ""
            view_class = getattr(entry.callback, "view_class", None)
            if view_class is not None:
                module = view_class.__module__
            if module.startswith("outreach."):
                yield prefix + str(entry.pattern), entry


# A URL parameter named after a scoped model (household, household_id, visit_pk …) is filled with a
# record inside and one outside the user's area.
def _model_for_parameter(name):
    base = name.removesuffix("_id").removesuffix("_pk").replace("_", "")
    for model in apps.get_models():
        if model.__module__.startswith("outreach.") and model._meta.model_name == base:
            return model
    return None


@pytest.mark.parametrize("role", ROLES)
def test_it_never_fails_on_the_projects_own_pages(role, world, users, client):
    user = getattr(users, role)
    client.force_login(user)
    for route, _pattern in _project_patterns():
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        models = {name: _model_for_parameter(name) for name in names}
        if not names:
            response = client.get("/" + re.sub(r"^\^|\$$", "", route))
            assert response.status_code < 500, f"{role} {route}: {response.status_code}"
            continue
        if not all(models.values()):
            # A parameter we cannot place: still never a 500 with a record id of each kind.
            values = {name: world.households["grid1"].pk for name in names}
            response = client.get("/" + _route_path(route, values))
            assert response.status_code < 500, f"{role} {route}: {response.status_code}"
            continue
        inside = {n: _inside_and_outside(user, m)[0] for n, m in models.items()}
        outside = {n: _inside_and_outside(user, m)[1] for n, m in models.items()}
        if all(inside.values()):
            response = client.get("/" + _route_path(route, {n: o.pk for n, o in inside.items()}))
            assert response.status_code < 500, f"{role} {route} inside: {response.status_code}"
        for name, obj in outside.items():
            if obj is None:
                continue
            values = {n: (o.pk if o is not None else obj.pk) for n, o in inside.items()}
            values[name] = obj.pk
            response = client.get("/" + _route_path(route, values))
            assert response.status_code in (302, 403, 404), f"{role} {route} outside: {response.status_code}"


def _route_path(route, values):
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: str(values[m.group(2)]), route)


def test_it_discovers_the_projects_pages():
    routes = [route for route, _ in _project_patterns()]
    assert "healthz" in routes
    assert "accounts/login/" in routes


def test_it_sends_anonymous_visitors_to_the_login_page(world, client):
    for model in MODEL_ADMINS:
        response = client.get(_url(model, "changelist"))
        assert response.status_code == 302 and "/login/" in response["Location"], model._meta.label


@pytest.mark.parametrize("url_name", ["people_household", "campaigns_assignment", "visits_visit", "people_resident"])
def test_it_lists_scoped_pages_with_queries_that_do_not_grow_with_rows(
    url_name, places, users, client, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import make_assignment, make_household, make_member, make_visit

    def add_rows(n):
        for _ in range(n):
            household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
            household.residents.create(name="成员", phone="13700000000")
            member = make_member(places.zhouzhuang)
            make_assignment(household, member)
            make_visit(household, visitor=member)

    client.force_login(users.town)
    url = reverse(f"admin:{url_name}_changelist")
    add_rows(2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    add_rows(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


# ---------------------------------------------------------------------------------------------- 督办单
# Orders for six units; what each role may read (None: no permission, every order answers 403), sign
# (the unit's admin) and close (the issuer level: the city for counties, the county for its towns and villages).
UNITS = ["xinjiang", "longxing", "zhouzhuang", "sanquan", "jishan", "jishan_town"]
SUPERVISION_VISIBLE = {
    "city": set(UNITS),
    "county": {"xinjiang", "longxing", "zhouzhuang", "sanquan"},
    "other_county": {"jishan", "jishan_town"},
    "town": {"longxing", "zhouzhuang"},
    "other_town": {"sanquan"},
    "grid": None,
    "other_grid": None,
    "member": None,
}
SUPERVISION_SIGNS = {"county": {"xinjiang"}, "other_county": {"jishan"}, "town": {"longxing", "zhouzhuang"}}
SUPERVISION_SIGNS["other_town"] = {"sanquan"}
SUPERVISION_JUDGES = {
    "city": set(UNITS),
    "county": {"longxing", "zhouzhuang", "sanquan"},
    "other_county": {"jishan_town"},
}


@pytest.mark.parametrize("role", ROLES)
def test_it_answers_every_supervision_url_by_role(role, places, users, client, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from outreach.dashboards import supervision
    from outreach.dashboards.models import SupervisionOrder
    from tests.factories import make_user

    settings.MEDIA_ROOT = tmp_path
    root = make_user(username="root_matrix", is_superuser=True)
    state = SupervisionOrder.State

    def order(unit):
        return supervision.open_order(code=getattr(places, unit).code, reason="manual", reason_text=unit)

    waiting = {unit: order(unit) for unit in UNITS}
    replied = {}
    for unit in UNITS:
        o = replied[unit] = order(unit)
        supervision.move(o, state.SIGNED, root)
        pdf = SimpleUploadedFile(f"{unit}.pdf", b"%PDF-1.4 matrix")
        supervision.move(o, state.REPLIED, root, "整改措施", attachment=pdf)
    user = getattr(users, role)
    client.force_login(user)
    visible = SUPERVISION_VISIBLE[role]
    signs, judges = SUPERVISION_SIGNS.get(role, set()), SUPERVISION_JUDGES.get(role, set())

    def check(method, url, expected, data=None):
        response = getattr(client, method)(url, data or {})
        assert response.status_code == expected, f"{role} {method.upper()} {url}: {response.status_code} ≠ {expected}"
        return response

    for name in ("supervision_list", "supervision_mine"):
        check("get", reverse(f"dashboards:{name}"), 403 if visible is None else 200)
    check("get", reverse("dashboards:supervision_list") + "?export=xlsx", 403 if visible is None else 200)
    for unit in UNITS:
        expected = 403 if visible is None else 200 if unit in visible else 404
        for o in (waiting[unit], replied[unit]):
            check("get", reverse("dashboards:supervision_detail", args=[o.pk]), expected)
            check("get", reverse("dashboards:supervision_move", args=[o.pk]), 405 if expected == 200 else expected)
        step = replied[unit].steps.get(state=state.REPLIED)
        check("get", reverse("dashboards:supervision_attachment", args=[step.pk]), expected)
        # 签收 an order waiting: recorded for the unit only; refused (a message, nothing written) for others.
        seen = waiting[unit].steps.get().pk
        url = reverse("dashboards:supervision_move", args=[waiting[unit].pk])
        check("post", url, 302 if expected == 200 else expected, {"to": "signed", "seen_step": seen})
        assert waiting[unit].steps.filter(state=state.SIGNED).exists() == (unit in signs), f"{role} signs {unit}"
        # 办结 an order replied: recorded for the issuer level only.
        seen = replied[unit].steps.order_by("-pk").first().pk
        url = reverse("dashboards:supervision_move", args=[replied[unit].pk])
        check("post", url, 302 if expected == 200 else expected, {"to": "closed", "seen_step": seen})
        assert replied[unit].steps.filter(state=state.CLOSED).exists() == (unit in judges), f"{role} closes {unit}"
        # 人工督办 form: the issuer level only.
        response = client.get(reverse("dashboards:supervision_open"), {"code": getattr(places, unit).code})
        if unit in judges:
            assert response.status_code == 200, f"{role} open {unit}"
        else:
            assert response.status_code in (403, 404), f"{role} open {unit}: {response.status_code}"
    # Opening by hand for a unit with no order (王庄村, 龙兴镇): the city and 新绛县 only.
    data = {"code": places.wangzhuang.code, "reason_text": "人工", "deadline": "2099-01-01"}
    response = client.post(reverse("dashboards:supervision_open"), data)
    opened = SupervisionOrder.objects.filter(village=places.wangzhuang).exists()
    assert opened == (role in ("city", "county")), f"{role} opens 王庄村: {response.status_code}"
    assert response.status_code in ((302,) if opened else (403, 404))
