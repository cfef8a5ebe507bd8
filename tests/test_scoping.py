import pytest
from django.http import Http404

from outreach.accounts.models import AccessLog, Role
from outreach.accounts.privacy import display_phone
from outreach.accounts.scoping import get_in_scope_or_404, scope_queryset
from outreach.accounts.services import record_access
from outreach.campaigns.models import Assignment
from outreach.people.models import Household, PartyMember
from outreach.places.models import County, GridArea, Town, Village
from outreach.visits.models import Visit
from tests.factories import make_assignment, make_household, make_member, make_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(places, users):
    member = make_member(places.zhouzhuang, user=users.member)
    h = {
        "grid1": make_household(places.zhouzhuang, grid=places.zhouzhuang_grid),
        "grid2": make_household(places.zhouzhuang, grid=places.zhouzhuang_grid2),
        "wangzhuang": make_household(places.wangzhuang),
        "sanquan": make_household(places.sanquan_village),
        "jishan": make_household(places.jishan_village, grid=places.jishan_grid),
    }
    make_assignment(h["grid2"], member)
    for household in h.values():
        make_visit(household)
    return h


def _visible(user, model=Household):
    return set(scope_queryset(user, model.objects.all()).values_list("pk", flat=True))


def test_it_scopes_households_by_role(world, users):
    ids = {k: v.pk for k, v in world.items()}
    assert _visible(users.city) >= set(ids.values())
    assert _visible(users.county) == {ids["grid1"], ids["grid2"], ids["wangzhuang"], ids["sanquan"]}
    assert _visible(users.other_county) == {ids["jishan"]}
    assert _visible(users.town) == {ids["grid1"], ids["grid2"], ids["wangzhuang"]}
    assert _visible(users.other_town) == {ids["sanquan"]}
    assert _visible(users.grid) == {ids["grid1"]}
    assert _visible(users.other_grid) == {ids["grid2"]}
    assert _visible(users.member) == {ids["grid2"]}


def test_it_scopes_visits_and_assignments_the_same_way(world, users):
    assert scope_queryset(users.grid, Visit.objects.all()).get().household == world["grid1"]
    assert scope_queryset(users.member, Visit.objects.all()).get().household == world["grid2"]
    assert not scope_queryset(users.grid, Assignment.objects.all()).exists()
    assert scope_queryset(users.member, Assignment.objects.all()).count() == 1


def test_it_scopes_places(world, users, places):
    assert set(scope_queryset(users.county, County.objects.all())) == {places.xinjiang}
    assert set(scope_queryset(users.town, Town.objects.all())) == {places.longxing}
    assert set(scope_queryset(users.grid, Village.objects.all())) == {places.zhouzhuang}
    assert set(scope_queryset(users.grid, GridArea.objects.all())) == {places.zhouzhuang_grid}
    assert not scope_queryset(users.other_county, Village.objects.filter(county=places.xinjiang)).exists()


def test_it_shows_a_member_only_themself(world, users):
    assert list(scope_queryset(users.member, PartyMember.objects.all())) == [users.member.party_member]


def test_it_answers_404_outside_scope(world, users):
    with pytest.raises(Http404):
        get_in_scope_or_404(users.other_county, Household.objects.all(), pk=world["grid1"].pk)
    with pytest.raises(Http404):
        get_in_scope_or_404(users.grid, Household.objects.all(), pk="not-a-number")
    assert get_in_scope_or_404(users.grid, Household.objects.all(), pk=world["grid1"].pk) == world["grid1"]


def test_it_sees_nothing_without_an_area(places):
    from outreach.accounts.models import User

    # The database refuses to store a county admin without a county (test_security); one in memory sees nothing.
    lost = User(username="no_county", role=Role.COUNTY)
    make_household(places.zhouzhuang)
    assert not scope_queryset(lost, Household.objects.all()).exists()


def test_it_masks_phones_for_roles_that_do_not_call_households(users):
    assert display_phone(users.county, "13812345678") == "138****5678"
    assert display_phone(users.grid, "13812345678") == "13812345678"


def test_it_keeps_an_append_only_access_log(users):
    entry = record_access(users.county, AccessLog.Kind.EXPORT, "住户", rows=12, filename="住户.xlsx")
    assert entry.scope == "新绛县"
    entry.rows = 0
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_it_writes_the_same_scope_out_as_sql_for_the_visit_post(world, users):
    # scope_sql (the visit POST's hand-written household lookup) answers what scope_queryset answers, for every
    # role whose scope is a column of the household; a scope through relations is left to scope_queryset.
    from django.db import connection

    from outreach.accounts.scoping import scope_sql
    from outreach.mobile.queries import visit_target

    for name in ("city", "county", "other_county", "town", "other_town", "grid", "other_grid", "member"):
        user = getattr(users, name)
        scope = scope_sql(user, Household, "h", connection)
        if name == "member":
            assert scope is None
        else:
            condition, params = scope
            sql = 'SELECT h."id" FROM "people_household" h' + (f" WHERE {condition}" if condition else "")
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                assert {row[0] for row in cursor.fetchall()} == _visible(user), name
        for household in world.values():
            found = visit_target(user, household.pk, [])
            assert (found is not None) == (household.pk in _visible(user)), (name, household)
            if found is not None:
                assert (found.pk, found.village_id, found.grid_id) == (
                    household.pk,
                    household.village_id,
                    household.grid_id,
                )


def test_it_reads_a_grid_workers_grids_in_the_visit_posts_statement_with_the_same_answer(world, users, places):
    # Before the request has the grid worker's area, scope_sql names their grid links in a subquery (one round
    # trip fewer); after it, the ids. Both answer what scope_queryset answers, also with two grids and with none.
    from django.db import connection

    from outreach.accounts.models import User
    from outreach.accounts.scoping import area_of, scope_sql

    def households(condition, params):
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT h."id" FROM "people_household" h WHERE {condition}', params)
            return {row[0] for row in cursor.fetchall()}

    for grids in ([places.zhouzhuang_grid], [places.zhouzhuang_grid, places.zhouzhuang_grid2], []):
        users.grid.grids.set(grids)
        fresh = User.objects.get(pk=users.grid.pk)
        linked = scope_sql(fresh, Household, "h", connection)
        assert "SELECT" in linked[0] and not hasattr(fresh, "_outreach_area")
        area_of(fresh)
        listed = scope_sql(fresh, Household, "h", connection)
        assert "SELECT" not in listed[0]
        assert households(*linked) == households(*listed) == _visible(User.objects.get(pk=users.grid.pk)), grids
