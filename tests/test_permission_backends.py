"""Permissions: the role's grants cost no query; those given in the admin (to the user or a group) are read in one."""

from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outreach.accounts.backends import PasswordBackend
from outreach.accounts.models import Role, User
from tests.factories import make_user


def fresh(user) -> User:
    return User.objects.get(pk=user.pk)  # no permission cache


def test_a_permission_the_role_grants_is_answered_without_a_query(places):
    county = fresh(make_user(Role.COUNTY, county=places.xinjiang))
    with CaptureQueriesContext(connection) as ctx:
        assert county.has_perm("people.view_household")
    assert len(ctx.captured_queries) == 0


def test_admin_given_permissions_of_the_user_and_of_a_group_are_read_in_one_query(places):
    member = make_user(Role.MEMBER, county=places.xinjiang, town=places.longxing)
    own = Permission.objects.get(codename="view_accesslog", content_type__app_label="accounts")
    group = Group.objects.create(name="审计")
    group.permissions.add(Permission.objects.get(codename="view_populationchange", content_type__app_label="places"))
    member.user_permissions.add(own)
    member.groups.add(group)
    member = fresh(member)
    with CaptureQueriesContext(connection) as ctx:
        assert member.has_perm("accounts.view_accesslog")
        assert member.has_perm("places.view_populationchange")
        assert not member.has_perm("people.delete_household")
    assert len(ctx.captured_queries) == 1
    assert {"accounts.view_accesslog", "places.view_populationchange"} <= member.get_all_permissions()


def test_an_inactive_user_has_no_permission_at_all(places):
    county = make_user(Role.COUNTY, county=places.xinjiang)
    county.user_permissions.add(Permission.objects.get(codename="view_accesslog", content_type__app_label="accounts"))
    county.is_active = False
    county.save()
    county = fresh(county)
    assert not county.has_perm("people.view_household")
    assert not county.has_perm("accounts.view_accesslog")


def test_a_session_logged_in_by_password_names_the_password_backend(client, places):
    user = make_user(Role.COUNTY, username="pw_user", county=places.xinjiang)
    user.set_password("Fanzha-2021-x")
    user.save()
    assert client.login(username="pw_user", password="Fanzha-2021-x")
    assert client.session["_auth_user_backend"] == "outreach.accounts.backends.PasswordBackend"


def test_a_user_loaded_for_a_session_without_given_permissions_costs_no_permission_query(places, client):
    county = make_user(Role.COUNTY, county=places.xinjiang)
    loaded = PasswordBackend().get_user(county.pk)
    with CaptureQueriesContext(connection) as ctx:
        assert not loaded.has_perm("accounts.view_accesslog")
        assert loaded.has_perm("people.view_household")
    assert len(ctx.captured_queries) == 0
    # Given one in the admin: the next load finds it.
    county.user_permissions.add(Permission.objects.get(codename="view_accesslog", content_type__app_label="accounts"))
    assert PasswordBackend().get_user(county.pk).has_perm("accounts.view_accesslog")
    group = Group.objects.create(name="审计")
    group.permissions.add(Permission.objects.get(codename="view_populationchange", content_type__app_label="places"))
    county.groups.add(group)
    assert PasswordBackend().get_user(county.pk).has_perm("places.view_populationchange")
