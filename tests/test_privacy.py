"""Personal data in the admin: masked phones, the logged reveal, history, filters that name only places in
scope, forged ids, bad input shown as text, and the access log."""

import io

import openpyxl
import pytest
from django.contrib import admin
from django.urls import reverse

from outreach.accounts.models import AccessLog, Role, User
from outreach.people.models import Household, Resident
from outreach.places.models import Village
from tests.factories import make_household, make_user
from tests.scope_world import PHONES, build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(places, users):
    return build_world(places, users)


def _change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


# --- masking -----------------------------------------------------------------------------------------


def test_it_masks_phones_in_lists_for_roles_that_do_not_call_households(world, users, client):
    for role in ("city", "county", "town"):
        client.force_login(getattr(users, role))
        for url_name in ("people_household", "people_partymember", "people_resident"):
            body = client.get(reverse(f"admin:{url_name}_changelist")).content.decode()
            assert "138****0001" in body or "139****0001" in body, (role, url_name)
            assert PHONES["grid1"] not in body and "13900000001" not in body, (role, url_name)


def test_it_shows_full_phones_to_the_grid_worker_who_calls_them(world, users, client):
    client.force_login(users.grid)
    body = client.get(reverse("admin:people_household_changelist")).content.decode()
    assert PHONES["grid1"] in body


def test_it_never_sends_the_full_phone_in_a_change_form(world, users, client):
    household = world.households["grid1"]
    client.force_login(users.county)
    body = client.get(_change_url(household)).content.decode()
    assert PHONES["grid1"] not in body
    assert "138****0001" in body
    assert reverse("admin:people_household_reveal_phone", args=[household.pk]) in body


def test_it_keeps_the_phone_when_a_masked_field_is_left_empty(world, users, client):
    household = world.households["grid1"]
    client.force_login(users.county)
    response = client.get(_change_url(household))
    data = _form_data(response)
    data["head_name"] = "改名户"
    data["phone"] = ""
    response = client.post(_change_url(household), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    household.refresh_from_db()
    assert household.head_name == "改名户"
    assert household.phone == PHONES["grid1"]


def test_it_reveals_a_phone_only_on_an_explicit_logged_request(world, users, client):
    household = world.households["grid1"]
    url = reverse("admin:people_household_reveal_phone", args=[household.pk])
    client.force_login(users.county)
    confirm = client.get(url).content.decode()
    assert PHONES["grid1"] not in confirm
    assert not AccessLog.objects.filter(kind=AccessLog.Kind.REVEAL).exists()
    shown = client.post(url).content.decode()
    assert PHONES["grid1"] in shown
    entry = AccessLog.objects.get(kind=AccessLog.Kind.REVEAL)
    assert entry.user == users.county and entry.scope == "新绛县" and "一网格户" in entry.subject
    other = reverse("admin:people_household_reveal_phone", args=[world.households["jishan"].pk])
    assert client.post(other).status_code == 404
    assert AccessLog.objects.filter(kind=AccessLog.Kind.REVEAL).count() == 1


def test_it_masks_phones_in_the_change_history(world, users, client):
    household = world.households["grid1"]
    household.phone = "13911112222"
    household.save()
    client.force_login(users.county)
    body = client.get(reverse("admin:people_household_history", args=[household.pk])).content.decode()
    assert "139****2222" in body
    assert "13911112222" not in body and PHONES["grid1"] not in body
    client.force_login(users.grid)
    body = client.get(reverse("admin:people_household_history", args=[household.pk])).content.decode()
    assert "13911112222" in body


def test_it_records_who_changed_a_household(world, users, client):
    household = world.households["grid1"]
    client.force_login(users.grid)
    data = _form_data(client.get(_change_url(household)))
    data["address"] = "周庄村新址1号"
    assert client.post(_change_url(household), data).status_code == 302
    latest = household.history.latest()
    assert latest.history_user == users.grid and latest.address == "周庄村新址1号"


# --- filters, choices and forged ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "hidden"),
    [
        ("county", ["稷山县"]),
        ("town", ["稷山县", "三泉镇"]),
        ("other_town", ["稷山县", "龙兴镇"]),
        ("grid", ["稷山县", "三泉镇", "第2网格"]),
        ("member", ["稷山县", "三泉镇"]),
    ],
)
def test_it_names_no_place_outside_scope_in_any_list_or_filter(role, hidden, world, users, places, client):
    hidden = [*hidden]
    if "稷山县" in hidden:
        hidden.append(places.jishan_town.name)
    client.force_login(getattr(users, role))
    for model in admin.site._registry:
        if not model.__module__.startswith("outreach."):
            continue
        response = client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        if response.status_code != 200:
            continue
        body = response.content.decode()
        for name in hidden:
            assert name not in body, f"{role} sees {name} on the {model._meta.label} list"


def test_it_offers_only_places_in_scope_as_choices(world, users, places, client):
    client.force_login(users.town)
    url = reverse("admin:autocomplete")
    params = {"app_label": "people", "model_name": "household", "field_name": "village", "term": ""}
    villages = {int(r["id"]) for r in client.get(url, params).json()["results"]}
    assert villages and villages <= set(Village.objects.filter(town=places.longxing).values_list("pk", flat=True))


def test_it_refuses_a_forged_village_from_another_county(world, users, places, client):
    client.force_login(users.county)
    add = reverse("admin:people_household_add")
    data = _form_data(client.get(add))
    data.update({"head_name": "伪造户", "phone": "13812340000", "size": "1", "village": places.jishan_village.pk})
    response = client.post(add, data)
    assert response.status_code == 200
    assert "village" in response.context["adminform"].form.errors
    assert not Household.objects.filter(head_name="伪造户").exists()


def test_it_refuses_a_grid_worker_moving_a_household_to_another_grid(world, users, places, client):
    household = world.households["grid1"]
    client.force_login(users.grid)
    data = _form_data(client.get(_change_url(household)))
    data["grid"] = places.zhouzhuang_grid2.pk
    response = client.post(_change_url(household), data)
    assert response.status_code == 200
    assert "grid" in response.context["adminform"].form.errors
    household.refresh_from_db()
    assert household.grid == places.zhouzhuang_grid


def test_it_refuses_a_household_the_grid_worker_would_no_longer_see(world, users, places, client):
    client.force_login(users.grid)
    add = reverse("admin:people_household_add")
    data = _form_data(client.get(add))
    data.update({"head_name": "无网格户", "size": "1", "village": places.zhouzhuang.pk, "grid": ""})
    response = client.post(add, data)
    assert response.status_code == 200
    assert "超出您的管辖范围" in response.content.decode()
    assert not Household.objects.filter(head_name="无网格户").exists()


def test_it_answers_404_to_a_post_on_another_countys_record(world, users, client):
    household = world.households["jishan"]
    client.force_login(users.county)
    response = client.post(_change_url(household), {"head_name": "篡改"})
    assert response.status_code == 404
    household.refresh_from_db()
    assert household.head_name == "稷山户"


def test_it_refuses_a_county_admin_making_a_city_admin(world, users, places, client):
    client.force_login(users.county)
    add = reverse("admin:accounts_user_add")
    response = client.post(
        add,
        {
            "username": "sneaky",
            "password1": "Zhengfa-2021-long",
            "password2": "Zhengfa-2021-long",
            "usable_password": "true",
            "role": Role.CITY,
            "county": places.xinjiang.pk,
        },
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="sneaky").exists()
    body = client.get(add).content.decode()
    assert "is_superuser" not in body and 'value="city"' not in body


# --- bad input is text -----------------------------------------------------------------------------------


def test_it_shows_markup_in_names_as_text(world, users, places, client):
    household = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="<script>alert(1)</script>")
    household.address = "<img src=x onerror=alert(1)>"
    household.save()
    client.force_login(users.county)
    pages = [
        reverse("admin:people_household_changelist"),
        _change_url(household),
        reverse("admin:people_household_history", args=[household.pk]),
        reverse("admin:people_household_reveal_phone", args=[household.pk]),
    ]
    for url in pages:
        body = client.get(url).content.decode()
        assert "<script>alert(1)" not in body and "<img src=x" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url


# --- the access log ---------------------------------------------------------------------------------


def test_it_lets_city_admins_read_and_filter_the_access_log(world, users, client):
    from outreach.accounts.services import record_access

    record_access(users.county, AccessLog.Kind.EXPORT, "住户", rows=3, filename="住户.xlsx")
    record_access(users.town, AccessLog.Kind.REVEAL, "住户：一网格户")
    url = reverse("admin:accounts_accesslog_changelist")
    client.force_login(users.city)
    body = client.get(url, {"kind__exact": "export"}).content.decode()
    assert "住户.xlsx" in body and "住户：一网格户" not in body
    for role in ("county", "town", "grid"):
        client.force_login(getattr(users, role))
        assert client.get(url).status_code == 403


def test_it_lets_nobody_change_the_access_log(world, users, superuser, client):
    from outreach.accounts.services import record_access

    entry = record_access(users.county, AccessLog.Kind.EXPORT, "住户", rows=3)
    for user in (users.city, superuser):
        client.force_login(user)
        change = reverse("admin:accounts_accesslog_change", args=[entry.pk])
        assert client.get(change).status_code == 200  # read-only view
        assert client.post(change, {"rows": "0"}).status_code == 403
        assert (
            client.post(reverse("admin:accounts_accesslog_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
        )
        assert client.get(reverse("admin:accounts_accesslog_add")).status_code == 403
    entry.refresh_from_db()
    assert entry.rows == 3


# --- user import and export --------------------------------------------------------------------------


def _xlsx(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    buffer.name = "用户.xlsx"
    return buffer


def _format_index(model_admin, title, import_=True):
    formats = model_admin.get_import_formats() if import_ else model_admin.get_export_formats()
    return next(i for i, f in enumerate(formats) if f().get_title() == title)


HEADER = ["姓名", "手机号码", "角色", "县（市、区）", "乡镇（街道）", "网格", "初始密码"]


def test_it_imports_users_into_the_importers_county_only(world, users, places, client):
    user_admin = admin.site._registry[User]
    sheet = _xlsx(
        [
            HEADER,
            ["王网格", "13700000001", "网格员", "新绛县", "龙兴镇", "周庄村·第1网格", "Wangge-2021-long"],
            ["李党员", "13700000002", "党员", "", "", "", ""],
            ["越权县", "13700000003", "县级管理员", "稷山县", "", "", ""],
            ["越权市", "13700000004", "市级管理员", "", "", "", ""],
        ]
    )
    taken = _xlsx([["用户名", *HEADER], ["county_jishan", "改名", "13700000005", "县级管理员", "", "", "", ""]])
    client.force_login(users.county)
    fmt = _format_index(user_admin, "xlsx")
    preview = client.post(reverse("admin:accounts_user_import"), {"import_file": sheet, "format": fmt})
    assert preview.status_code == 200
    result = preview.context["result"]
    assert result.has_validation_errors()
    errors = " ".join(str(e) for row in result.invalid_rows for e in row.error_dict.values())
    assert "稷山县" in errors and "市级管理员" in errors
    assert not User.objects.filter(username__startswith="137").exists()
    # An account of another county named in the file is refused, never updated.
    preview = client.post(reverse("admin:accounts_user_import"), {"import_file": taken, "format": fmt})
    assert preview.context["result"].has_validation_errors()
    assert "已被占用" in preview.content.decode()
    users.other_county.refresh_from_db()
    assert users.other_county.last_name == "" and users.other_county.role == Role.COUNTY

    good = _xlsx([HEADER, *_rows_ok()])
    preview = client.post(reverse("admin:accounts_user_import"), {"import_file": good, "format": fmt})
    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors(), (
        [(row.number, row.error_dict) for row in result.invalid_rows]
        + [(e.error, e.traceback) for row in result.row_errors() for e in row[1]]
        + [(e.error, e.traceback) for e in result.base_errors]
    )
    confirm = preview.context["confirm_form"]
    response = client.post(reverse("admin:accounts_user_process_import"), confirm.initial)
    assert response.status_code == 302
    wang = User.objects.get(username="13700000001")
    assert (
        wang.role == Role.GRID and wang.county == places.xinjiang and list(wang.grids.all()) == [places.zhouzhuang_grid]
    )
    assert wang.check_password("Wangge-2021-long")
    li = User.objects.get(username="13700000002")
    assert li.county == places.xinjiang and not li.has_usable_password()
    entry = AccessLog.objects.get(kind=AccessLog.Kind.IMPORT)
    assert entry.user == users.county and entry.rows == 2 and entry.filename == "用户.xlsx"


def _rows_ok():
    return [
        ["王网格", "13700000001", "网格员", "新绛县", "龙兴镇", "周庄村·第1网格", "Wangge-2021-long"],
        ["李党员", "137 0000 0002", "党员", "", "", "", ""],
    ]


def test_it_exports_users_masked_formula_safe_and_logged(world, users, places, client):
    make_user(Role.GRID, username="=HYPERLINK(1)", county=places.xinjiang, town=places.longxing, phone="13712345678")
    user_admin = admin.site._registry[User]
    client.force_login(users.county)
    fmt = _format_index(user_admin, "xlsx", import_=False)
    fields = {f"userresource_{name}": "on" for name in ("username", "name", "phone", "role", "county", "town")}
    response = client.post(reverse("admin:accounts_user_export"), {"format": fmt, "resource": "0", **fields})
    assert response.status_code == 200, response.content.decode()[:3000]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header, data = rows[0], rows[1:]
    phones = [row[header.index("手机号码")] for row in data]
    usernames = [row[header.index("用户名")] for row in data]
    assert "137****5678" in phones and "13712345678" not in phones
    assert "=HYPERLINK(1)" in usernames  # as typed, with the quote-prefix style (test_exports)
    assert "county_jishan" not in usernames
    assert "初始密码" not in header
    entry = AccessLog.objects.get(kind=AccessLog.Kind.EXPORT)
    assert entry.user == users.county and entry.rows == len(data)


def test_it_keeps_import_and_export_behind_their_own_permissions(world, users, client):
    for role in ("town", "grid", "member"):
        client.force_login(getattr(users, role))
        assert client.get(reverse("admin:accounts_user_import")).status_code == 403, role
        assert client.get(reverse("admin:accounts_user_export")).status_code == 403, role
    client.force_login(users.county)
    assert client.get(reverse("admin:accounts_user_import")).status_code == 200
    assert users.county.has_perm("people.import_household") and users.county.has_perm("people.export_household")
    assert users.town.has_perm("people.export_household") and not users.town.has_perm("people.import_household")
    assert not users.grid.has_perm("people.export_household")


def _form_data(response):
    """The POST data a browser would send back for the admin change form in ``response``."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = str(value)
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = str(management[name].value())
        for sub in formset.formset.forms:
            for name in sub.fields:
                value = sub[name].value()
                if value is None or value is False:
                    continue
                data[sub.add_prefix(name)] = "on" if value is True else str(value)
    return data


def test_it_logs_bulk_deletes(world, users, client):
    client.force_login(users.county)
    household = world.households["sanquan"]
    # Households are struck off (移出花名册), never deleted, below the superuser (README, 数字“截至某日”).
    client.post(
        reverse("admin:people_household_changelist"),
        {"action": "delete_selected", "_selected_action": [household.pk], "post": "yes"},
    )
    assert Household.objects.filter(pk=household.pk).exists()
    resident = household.residents.get()
    response = client.post(
        reverse("admin:people_resident_changelist"),
        {"action": "delete_selected", "_selected_action": [resident.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Resident.objects.filter(pk=resident.pk).exists()
    entry = AccessLog.objects.get(kind=AccessLog.Kind.BULK_CHANGE)
    assert entry.user == users.county and entry.rows == 1 and entry.subject == "家庭成员"


def test_it_deletes_nothing_outside_scope_through_a_forged_selection(world, users, client):
    client.force_login(users.county)
    jishan = world.households["jishan"]
    client.post(
        reverse("admin:people_household_changelist"),
        {"action": "delete_selected", "_selected_action": [jishan.pk], "post": "yes"},
    )
    assert Household.objects.filter(pk=jishan.pk).exists()


def test_it_answers_404_for_another_areas_history_versions(world, users, client):
    household = world.households["jishan"]
    version = household.history.latest()
    url = reverse("admin:people_household_simple_history", args=[household.pk, version.history_id])
    client.force_login(users.county)
    assert client.get(url).status_code == 404
    client.force_login(users.other_county)
    page = client.get(url)
    assert page.status_code == 200
    assert PHONES["jishan"] not in page.content.decode()
    assert client.post(url, {"head_name": "回退"}).status_code == 403


def test_it_masks_phones_on_read_only_pages(world, users, client, monkeypatch):
    from outreach.accounts import permissions

    view_only = permissions.ROLE_PERMISSIONS[Role.TOWN] - {"people.change_household"}
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, Role.TOWN, view_only)
    client.force_login(users.town)
    body = client.get(_change_url(world.households["grid1"])).content.decode()
    assert "一网格户" in body and "138****0001" in body
    assert PHONES["grid1"] not in body


def test_it_refuses_a_forged_household_in_an_inline_row(world, users, places, client):
    from outreach.campaigns.models import Assignment

    member = world.members[0]
    elsewhere = make_household(places.jishan_village, head_name="稷山未包联户")
    nearby = make_household(places.zhouzhuang, grid=places.zhouzhuang_grid, head_name="周庄未包联户")
    client.force_login(users.county)

    def post_with(household):
        response = client.get(_change_url(member))
        data = _form_data(response)
        prefix = response.context["inline_admin_formsets"][0].formset.prefix
        row = int(data[f"{prefix}-TOTAL_FORMS"])
        data[f"{prefix}-TOTAL_FORMS"] = str(row + 1)
        data[f"{prefix}-{row}-campaign"] = str(world.campaign.pk)
        data[f"{prefix}-{row}-household"] = str(household.pk)
        data[f"{prefix}-{row}-member"] = str(member.pk)
        return client.post(_change_url(member), data)

    refused = post_with(elsewhere)
    assert refused.status_code == 200
    inline_errors = refused.context["inline_admin_formsets"][0].formset.errors
    assert any("household" in errors for errors in inline_errors), inline_errors
    assert not Assignment.objects.filter(household=elsewhere).exists()
    assert post_with(nearby).status_code == 302
    assert Assignment.objects.filter(member=member, household=nearby).exists()
