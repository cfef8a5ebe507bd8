"""Admin lists stay fast at a million rows without changing what they show: the count (exact, or 约 an
estimate on PostgreSQL past EXACT_UP_TO rows), the row checkbox and link, the rows Django would write, the
side bar of the user's permissions, the city's town filter and the visit list's date hierarchy. Nothing here is
timed (speed is measured by ``make bench``)."""

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_list import results
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outreach.accounts.models import Role
from outreach.accounts.templatetags.outreach_admin import _steps
from outreach.lib import pagination
from outreach.people.models import Household
from outreach.visits.models import Visit
from tests.factories import make_assignment, make_household, make_member, make_user, make_visit

pytestmark = pytest.mark.django_db

HOUSEHOLDS = "admin:people_household_changelist"


def _filters(response) -> str:
    """The filter side bar of a change list page."""
    return response.content.decode().split('id="changelist-filter"', 1)[1]


def _households(village, n):
    return [make_household(village) for _ in range(n)]


def test_it_counts_a_short_list_exactly(places, superuser, client):
    _households(places.zhouzhuang, 3)
    client.force_login(superuser)
    response = client.get(reverse(HOUSEHOLDS))
    assert response.context["cl"].result_count == 3
    assert not response.context["cl"].paginator.estimated
    assert "约" not in response.content.decode().split('class="paginator"')[1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the estimate is PostgreSQL's")
def test_it_estimates_a_long_list_on_postgresql_and_says_so(places, superuser, client, monkeypatch):
    monkeypatch.setattr(pagination.EstimatedCountPaginator, "exact_up_to", 4)
    _households(places.zhouzhuang, 7)
    _households(places.jishan_village, 2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_household")
    client.force_login(superuser)
    response = client.get(reverse(HOUSEHOLDS))
    cl = response.context["cl"]
    assert cl.paginator.estimated and cl.result_count >= 5
    body = response.content.decode()
    assert f"约 {cl.result_count:,}" in body.split('class="paginator"')[1]
    # A filtered list: counted exactly while short, estimated (but never below what was found) when long.
    short = client.get(reverse(HOUSEHOLDS), {"county": places.jishan.pk}).context["cl"]
    assert short.result_count == 2 and not short.paginator.estimated
    long = client.get(reverse(HOUSEHOLDS), {"county": places.xinjiang.pk}).context["cl"]
    assert long.paginator.estimated and long.result_count >= 5
    # A page past an estimate that came out low is still served, not an error.
    assert client.get(reverse(HOUSEHOLDS), {"p": 50}).status_code == 200


def test_it_rounds_an_estimate_to_three_figures():
    assert pagination.round_estimate(1_000_327) == 1_000_000
    assert pagination.round_estimate(153_421) == 153_000
    assert pagination.round_estimate(987) == 987


def test_it_writes_the_row_checkbox_and_link_as_django_does(places, superuser, client):
    household = make_household(places.zhouzhuang, head_name="张建国")
    model_admin = admin.site.get_model_admin(Household)
    assert model_admin.action_checkbox(household) == admin.ModelAdmin.action_checkbox(model_admin, household)
    client.force_login(superuser)
    body = client.get(reverse(HOUSEHOLDS)).content.decode()
    assert f'name="{ACTION_CHECKBOX_NAME}" value="{household.pk}" class="action-select"' in body
    assert f'href="{reverse("admin:people_household_change", args=[household.pk])}"' in body


def test_it_names_the_towns_of_a_county_once_the_city_has_chosen_one(places, client):
    make_household(places.zhouzhuang)
    city = make_user(Role.CITY)
    client.force_login(city)
    filters = _filters(client.get(reverse(HOUSEHOLDS)))
    assert "新绛县" in filters and "龙兴镇" not in filters and "三泉镇" not in filters  # no town list for the city
    filters = _filters(client.get(reverse(HOUSEHOLDS), {"county": places.xinjiang.pk}))
    assert "龙兴镇" in filters and "三泉镇" in filters and places.jishan_town.name not in filters
    # A town chosen without its county: the list is that town's county's towns.
    response = client.get(reverse(HOUSEHOLDS), {"town": places.longxing.pk})
    filters = _filters(response)
    assert "龙兴镇" in filters and "三泉镇" in filters
    assert response.context["cl"].result_count == 1


def test_it_still_names_a_county_users_towns(places, client):
    county_user = make_user(Role.COUNTY, county=places.xinjiang)
    client.force_login(county_user)
    filters = _filters(client.get(reverse(HOUSEHOLDS)))
    assert "龙兴镇" in filters and "三泉镇" in filters
    assert places.jishan_town.name not in filters


def test_it_offers_the_months_between_the_first_and_last_visit(places, superuser, client):
    household = make_household(places.zhouzhuang)
    for day in (dt.datetime(2021, 8, 20, 10), dt.datetime(2021, 10, 3, 10)):
        make_visit(household, visited_at=timezone.make_aware(day))
    client.force_login(superuser)
    url = reverse("admin:visits_visit_changelist")
    body = client.get(url).content.decode()
    for month in ("2021年8月", "2021年9月", "2021年10月"):
        assert month in body, month
    assert "2021年7月" not in body and "2021年11月" not in body
    # Chosen month: its days from the first visit to the last, and the list holds the month's visits.
    response = client.get(url, {"visited_at__year": 2021, "visited_at__month": 8})
    assert response.context["cl"].result_count == 1
    assert "8月20日" in response.content.decode()
    assert Visit.objects.count() == 2


def test_it_steps_through_years_months_and_days():
    first, last = dt.date(2020, 11, 30), dt.date(2021, 2, 2)
    assert _steps(first, last, "year") == [dt.date(2020, 1, 1), dt.date(2021, 1, 1)]
    assert _steps(first, last, "month") == [dt.date(2020, 11, 1), dt.date(2020, 12, 1)] + [
        dt.date(2021, m, 1) for m in (1, 2)
    ]
    assert len(_steps(first, last, "day")) == 65


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the estimate is PostgreSQL's")
def test_it_does_not_count_a_filtered_list_the_planner_expects_to_be_long(places, superuser, client, monkeypatch):
    monkeypatch.setattr(pagination.EstimatedCountPaginator, "exact_up_to", 4)
    _households(places.zhouzhuang, 12)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE people_household")
    client.force_login(superuser)
    with CaptureQueriesContext(connection) as ctx:
        cl = client.get(reverse(HOUSEHOLDS), {"county": places.xinjiang.pk}).context["cl"]
    # 12 expected, more than twice the 4 counted exactly: no COUNT(*) at all, the estimate said 约.
    assert cl.paginator.estimated and cl.result_count >= 5
    assert not [q for q in ctx.captured_queries if q["sql"].startswith("SELECT COUNT(")]


def _django_rows(response):
    """The rows Django's own ``items_for_result`` writes for the page's change list."""
    cl = response.context["cl"]
    return ["".join(items) for items in results(cl)]


@pytest.mark.parametrize(
    "url_name", [HOUSEHOLDS, "admin:visits_visit_changelist", "admin:campaigns_assignment_changelist"]
)
def test_it_writes_the_rows_django_writes(url_name, places, users, client):
    grid = places.zhouzhuang_grid
    member = make_member(places.zhouzhuang, name="王党员")
    for n, address in enumerate(["周庄村东街1号", "", "村西头<老槐树>下&旁边的院子，门口有两棵枣树的那一户"]):
        household = make_household(places.zhouzhuang, grid=grid if n else None, address=address, elderly_alone=n == 1)
        make_assignment(household, member)
        make_visit(household, visitor=member, signed=bool(n))
    for user, query in ((users.county, {}), (users.city, {"county": places.xinjiang.pk, "o": "1"})):
        client.force_login(user)
        response = client.get(reverse(url_name), query)
        fast = [str(row[0]) for row in response.context["results"]]
        assert len(fast) == 3
        assert fast == _django_rows(response)
        # The link keeps the list's filters, as Django's does.
        if query:
            assert "_changelist_filters=county" in fast[0]
        body = response.content.decode()
        assert all(row in body for row in fast)


def test_it_shows_the_side_bar_for_the_permissions_of_the_moment(places, client):
    county = make_user(Role.COUNTY, county=places.xinjiang)
    client.force_login(county)
    url = reverse("admin:password_change_done")
    assert "/admin/accounts/accesslog/" not in client.get(url).content.decode()
    county.user_permissions.add(Permission.objects.get(codename="view_accesslog", content_type__app_label="accounts"))
    assert "/admin/accounts/accesslog/" in client.get(url).content.decode()
    # The current model is marked in the side bar of its own pages only.
    marked = 'class="model-household current-model"'
    assert marked in client.get(reverse(HOUSEHOLDS)).content.decode()
    assert marked not in client.get(url).content.decode()


def test_it_answers_the_blank_admin_page_with_the_session_and_the_user_only(places, client):
    client.force_login(make_user(Role.COUNTY, county=places.xinjiang))
    url = reverse("admin:password_change_done")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    assert len(ctx.captured_queries) == 2, [q["sql"][:80] for q in ctx.captured_queries]


def test_it_lists_assignments_by_the_households_village_and_names_each_grid(places, superuser, client):
    member = make_member(places.zhouzhuang, name="王党员")
    first_village, second_village = sorted([places.zhouzhuang, places.wangzhuang], key=lambda v: v.pk)
    later = make_household(second_village)
    earlier = make_household(first_village)  # a higher id, in the village listed first
    for household in (later, earlier):
        make_assignment(household, member)
    client.force_login(superuser)
    listed = list(client.get(reverse("admin:campaigns_assignment_changelist")).context["cl"].result_list)
    assert [a.household_id for a in listed] == [earlier.pk, later.pk]
    make_household(places.zhouzhuang, grid=places.zhouzhuang_grid)
    body = client.get(reverse(HOUSEHOLDS)).content.decode()
    assert '<td class="field-grid_name">周庄村·第1网格</td>' in body
