"""Admin lists stay fast at a million rows without changing what they show: the count (exact, or 约 an
estimate on PostgreSQL past EXACT_UP_TO rows), the row checkbox and link, the city's town filter and the
visit list's date hierarchy. Nothing here is timed (speed is measured by ``make bench``)."""

import datetime as dt

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from outreach.accounts.models import Role
from outreach.accounts.templatetags.outreach_admin import _steps
from outreach.lib import pagination
from outreach.people.models import Household
from outreach.visits.models import Visit
from tests.factories import make_household, make_user, make_visit

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
