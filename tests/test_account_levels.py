"""Accounts across levels (security round two, defects 1 and 5).

A role's area fields must fit the role (model ``clean`` and a database check constraint); the user admin
and the user import reach only accounts below the actor's level; the user import keeps no password in
the clear anywhere, and its temporary file lives under DATAIO_DIR only as long as the preview.
"""

import io
import os
import time
from importlib import import_module

import openpyxl
import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from outreach.accounts.models import Role, User
from outreach.lib.uploads import GuardedTempStorage
from tests.factories import PASSWORD, make_user

USER_IMPORT = "admin:accounts_user_import"


@pytest.fixture(autouse=True)
def _dataio_dir(settings, tmp_path):
    settings.DATAIO_DIR = tmp_path / "dataio"


def _xlsx(rows, name="用户.xlsx"):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    buffer.name = name
    return buffer


def _xlsx_format():
    user_admin = admin.site._registry[User]
    return next(i for i, f in enumerate(user_admin.get_import_formats()) if f().get_title() == "xlsx")


# --- the role decides the area fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, fields",
    [
        (Role.CITY, {"county": "xinjiang"}),
        (Role.CITY, {"town": "longxing", "county": None}),
        (Role.COUNTY, {}),
        (Role.COUNTY, {"county": "xinjiang", "town": "longxing"}),
        (Role.TOWN, {"county": "xinjiang"}),
    ],
)
def test_it_refuses_area_fields_that_do_not_fit_the_role_in_the_database(places, role, fields):
    values = {name: getattr(places, key) if key else None for name, key in fields.items()}
    with pytest.raises(IntegrityError), transaction.atomic():
        User(username="misfit", role=role, **values).save()
    with pytest.raises(ValidationError):
        User(username="misfit", role=role, **values).full_clean(exclude=["password"])


def test_the_database_refuses_a_town_admin_without_a_county(places):
    with pytest.raises(IntegrityError), transaction.atomic():
        User(username="misfit", role=Role.TOWN, town=places.longxing).save()


def test_it_takes_a_town_admins_county_from_the_town_and_refuses_a_town_of_another_county(places):
    user = User(username="town_admin", role=Role.TOWN, town=places.longxing)
    user.full_clean(exclude=["password"])
    assert user.county == places.xinjiang
    wrong = User(username="wrong", role=Role.TOWN, town=places.longxing, county=places.jishan)
    with pytest.raises(ValidationError, match="不属于稷山县"):
        wrong.full_clean(exclude=["password"])


def test_it_keeps_grids_inside_the_accounts_county_whatever_adds_them(places):
    worker = make_user(Role.GRID, username="grid_x", county=places.xinjiang, town=places.longxing)
    worker.grids.add(places.zhouzhuang_grid)
    with pytest.raises(ValidationError, match="网格不在"), transaction.atomic():
        worker.grids.add(places.jishan_grid)
    assert list(worker.grids.all()) == [places.zhouzhuang_grid]
    city = make_user(Role.CITY, username="city_x")
    with pytest.raises(ValidationError, match="只有网格员"), transaction.atomic():
        places.zhouzhuang_grid.workers.add(city)


@pytest.mark.django_db(transaction=True)
def test_it_fixes_or_reports_existing_accounts_when_the_rule_arrives(places, capsys):
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0003_alter_user_options")])
    try:
        old = executor.loader.project_state([("accounts", "0003_alter_user_options")]).apps
        OldUser = old.get_model("accounts", "User")
        OldUser.objects.create(username="city_with_county", role="city", county_id=places.xinjiang.pk)
        OldUser.objects.create(
            username="county_with_town", role="county", county_id=places.xinjiang.pk, town_id=places.longxing.pk
        )
        OldUser.objects.create(username="town_without_county", role="town", town_id=places.longxing.pk)
        OldUser.objects.create(username="county_without_anything", role="county")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    fixed = {u.username: u for u in User.objects.filter(username__contains="_with")}
    assert fixed["city_with_county"].county is None
    assert fixed["county_with_town"].county == places.xinjiang and fixed["county_with_town"].town is None
    assert fixed["town_without_county"].county == places.xinjiang
    lost = fixed["county_without_anything"]
    assert lost.role == Role.MEMBER and not lost.is_active
    assert "county_without_anything" in capsys.readouterr().out


def test_the_migration_module_names_its_fix():
    module = import_module("outreach.accounts.migrations.0004_fit_user_scope_to_role")
    assert module.fit_scope_to_role.__doc__


# --- the user admin reaches only accounts below the actor -------------------------------------------------


@pytest.fixture
def accounts(places, users):
    """Accounts at every level of 新绛县, plus a second county admin and a superuser."""
    return {
        "city": users.city,
        "county_peer": make_user(Role.COUNTY, username="county_peer", county=places.xinjiang),
        "county": users.county,
        "town": users.town,
        "grid": users.grid,
        "member": users.member,
        "root": make_user(username="root", is_superuser=True),
    }


@pytest.mark.parametrize(
    "actor, manages",
    [
        ("county", {"town", "grid", "member"}),
        ("city", {"county", "county_peer", "town", "grid", "member"}),
        ("root", {"city", "county", "county_peer", "town", "grid", "member", "root"}),
    ],
)
def test_it_lists_changes_resets_and_deletes_only_accounts_below_the_actor(client, accounts, actor, manages):
    client.force_login(accounts[actor])
    for key, target in accounts.items():
        urls = [
            reverse("admin:accounts_user_change", args=[target.pk]),
            reverse("admin:auth_user_password_change", args=[target.pk]),
            reverse("admin:accounts_user_history", args=[target.pk]),
        ]
        expected = 200 if key in manages else 404
        for url in urls:
            assert client.get(url).status_code == expected, f"{actor} → {key}: {url}"
        # Only superusers delete accounts: everyone else is refused alike, whoever the account is.
        delete = client.get(reverse("admin:accounts_user_delete", args=[target.pk])).status_code
        assert delete == (expected if actor == "root" else 403), f"{actor} deletes {key}"
        listed = client.get(reverse("admin:accounts_user_changelist"), {"q": target.username})
        assert (target.username in [u.username for u in listed.context["cl"].result_list]) == (key in manages)


def test_a_county_admin_cannot_reset_the_password_of_a_city_or_county_admin(client, accounts):
    client.force_login(accounts["county"])
    for key in ("city", "county_peer", "root"):
        target = accounts[key]
        response = client.post(
            reverse("admin:auth_user_password_change", args=[target.pk]),
            {"password1": "Takeover-2026-x", "password2": "Takeover-2026-x", "usable_password": "true"},
        )
        assert response.status_code == 404, key
        target.refresh_from_db()
        assert target.check_password(PASSWORD) and not target.check_password("Takeover-2026-x")


def test_it_offers_only_roles_below_the_actor_and_refuses_a_forged_one(client, accounts, places):
    client.force_login(accounts["county"])
    form = client.get(reverse("admin:accounts_user_add")).context["adminform"].form
    assert {value for value, _ in form.fields["role"].choices} == {Role.TOWN, Role.GRID, Role.MEMBER}
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "forged",
            "password1": "Forged-2026-long",
            "password2": "Forged-2026-long",
            "usable_password": "true",
            "role": Role.COUNTY,
            "county": places.xinjiang.pk,
        },
    )
    assert response.status_code == 200 and not User.objects.filter(username="forged").exists()


def test_the_user_import_never_rewrites_an_account_at_or_above_the_importer(client, accounts):
    client.force_login(accounts["county"])
    for key in ("city", "county_peer"):
        target = accounts[key]
        sheet = _xlsx(
            [
                ["用户名", "姓名", "手机号码", "角色", "县（市、区）", "乡镇（街道）", "网格", "初始密码"],
                [target.username, "接管", "", "县级管理员", "新绛县", "", "", "Takeover-2026-x"],
            ]
        )
        preview = client.post(reverse(USER_IMPORT), {"import_file": sheet, "format": _xlsx_format()})
        assert preview.context["result"].has_validation_errors(), key
        assert "confirm_form" not in preview.context
        target.refresh_from_db()
        assert target.check_password(PASSWORD) and target.role in (Role.CITY, Role.COUNTY)
        assert target.last_name == ""


# --- no password at rest, no temp file left behind ------------------------------------------------------


def _temp_files(settings):
    folder = settings.DATAIO_DIR / "import_export"
    return sorted(folder.glob("*")) if folder.exists() else []


HEADER = ["姓名", "手机号码", "角色", "县（市、区）", "乡镇（街道）", "网格", "初始密码"]


def test_the_user_import_keeps_only_hashes_between_preview_and_confirm(client, users, settings):
    client.force_login(users.county)
    sheet = _xlsx(
        [HEADER, ["王网格", "13700000001", "网格员", "新绛县", "龙兴镇", "周庄村·第1网格", "Wangge-2021-long"]]
    )
    preview = client.post(reverse(USER_IMPORT), {"import_file": sheet, "format": _xlsx_format()})
    confirm = preview.context["confirm_form"]
    (stored,) = _temp_files(settings)
    assert stored.stat().st_mode & 0o077 == 0
    book = openpyxl.load_workbook(io.BytesIO(stored.read_bytes()))
    cells = [c for row in book.active.iter_rows(values_only=True) for c in row]
    assert "Wangge-2021-long" not in cells and b"Wangge-2021-long" not in stored.read_bytes()
    response = client.post(reverse("admin:accounts_user_process_import"), confirm.initial)
    assert response.status_code == 302
    assert User.objects.get(username="13700000001").check_password("Wangge-2021-long")
    assert _temp_files(settings) == []


def test_a_refused_user_import_leaves_no_file_and_says_why(client, users, settings):
    client.force_login(users.county)
    sheet = _xlsx([HEADER, ["王网格", "13700000001", "网格员", "新绛县", "龙兴镇", "周庄村·第1网格", "12345678901"]])
    preview = client.post(reverse(USER_IMPORT), {"import_file": sheet, "format": _xlsx_format()})
    result = preview.context["result"]
    assert result.has_validation_errors()
    assert "密码" in " ".join(str(e) for row in result.invalid_rows for e in row.error_dict.values())
    assert _temp_files(settings) == []
    assert not [p for p in os.listdir("/tmp") if p.startswith("tmp") and _holds(p, b"12345678901")]


def _holds(name, needle):
    try:
        with open(os.path.join("/tmp", name), "rb") as handle:
            return needle in handle.read(1_000_000)
    except OSError:
        return False


def test_abandoned_user_import_files_are_swept(client, users, settings):
    settings.DATAIO_ABANDONED_HOURS = 1
    storage = GuardedTempStorage()
    storage.save(b"old preview")
    old = settings.DATAIO_DIR / "import_export" / storage.name
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    client.force_login(users.county)
    assert client.get(reverse(USER_IMPORT)).status_code == 200
    assert not old.exists()


def test_a_forged_sealed_password_is_taken_as_plain_text(users):
    from outreach.accounts.resources import open_password

    assert open_password("pbkdf2_sha256$1$x$y") == ("plain", "pbkdf2_sha256$1$x$y")


def test_the_user_import_refuses_a_bomb_before_reading_it(client, users, settings):
    settings.DATAIO_MAX_CELL_CHARS = 50
    client.force_login(users.county)
    sheet = _xlsx([HEADER, ["王" * 60, "13700000001", "网格员", "新绛县", "龙兴镇", "周庄村·第1网格", ""]])
    response = client.post(reverse(USER_IMPORT), {"import_file": sheet, "format": _xlsx_format()}, follow=True)
    assert "第2行A列" in response.content.decode()
    assert _temp_files(settings) == []


def test_a_party_member_can_be_linked_only_to_a_login_below_the_admin(client, accounts, places):
    from tests.factories import make_member

    member = make_member(places.zhouzhuang, name="链接党员")
    client.force_login(accounts["county"])
    form = client.get(reverse("admin:people_partymember_change", args=[member.pk])).context["adminform"].form
    offered = set(form.fields["user"].queryset.values_list("username", flat=True))
    assert accounts["member"].username in offered
    assert not offered & {accounts["county_peer"].username, accounts["city"].username, accounts["root"].username}
