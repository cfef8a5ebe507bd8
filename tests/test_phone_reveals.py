"""A masked phone number cannot be read without a logged, limited reveal (security round two, defect 2).

Searching an admin list (or an autocomplete) by a full number tells whether it belongs to a record: for
roles that see masked numbers that is a reveal, logged with the records it matched and counted against the
same hourly limit as the "查看完整号码" button, found or not.
"""

import pytest
from django.urls import reverse

from outreach.accounts.models import AccessLog
from tests.scope_world import PHONES, build_world

pytestmark = pytest.mark.django_db

SEARCHED_ADMINS = [
    "admin:people_household_changelist",
    "admin:people_resident_changelist",
    "admin:people_partymember_changelist",
    "admin:campaigns_assignment_changelist",
    "admin:visits_visit_changelist",
    "admin:accounts_user_changelist",
]


@pytest.fixture
def world(places, users):
    return build_world(places, users)


def _reveals(user):
    return AccessLog.objects.filter(user=user, kind=AccessLog.Kind.REVEAL)


@pytest.mark.parametrize("url_name", SEARCHED_ADMINS)
def test_a_search_by_a_full_number_is_a_logged_reveal(url_name, world, users, client):
    client.force_login(users.county)
    response = client.get(reverse(url_name), {"q": PHONES["grid1"]})
    assert response.status_code == 200
    (entry,) = _reveals(users.county)
    assert "按完整号码搜索" in entry.subject and "138****0001" in entry.detail
    assert PHONES["grid1"] not in entry.detail and entry.ip_address == "127.0.0.1"


def test_the_household_search_logs_which_records_it_matched(world, users, client):
    client.force_login(users.county)
    client.get(reverse("admin:people_household_changelist"), {"q": PHONES["grid1"]})
    client.get(reverse("admin:people_household_changelist"), {"q": "13200000000"})
    hit, miss = _reveals(users.county).order_by("at", "pk")
    assert hit.rows == 1 and f"#{world.households['grid1'].pk}" in hit.detail
    assert miss.rows == 0 and "无" in miss.detail


def test_trying_numbers_one_by_one_stops_at_the_hourly_limit(world, users, client, settings):
    settings.PHONE_REVEAL_LIMIT_PER_HOUR = 3
    client.force_login(users.county)
    url = reverse("admin:people_household_changelist")
    for n in range(3):
        assert client.get(url, {"q": f"132{n:04d}0001"}).status_code == 200
    refused = client.get(url, {"q": PHONES["grid1"]})
    assert refused.status_code == 429
    assert "一小时内" in refused.content.decode() and PHONES["grid1"] not in refused.content.decode()
    assert _reveals(users.county).count() == 3
    # The button shares the limit: no number shown, nothing more logged.
    household = world.households["grid1"]
    reveal = client.post(reverse("admin:people_household_reveal_phone", args=[household.pk]))
    assert reveal.status_code == 429 and PHONES["grid1"] not in reveal.content.decode()
    # Searching by a name is not a reveal and still works.
    assert client.get(url, {"q": "一网格户"}).status_code == 200


def test_the_reveal_button_counts_towards_the_same_limit(world, users, client, settings):
    settings.PHONE_REVEAL_LIMIT_PER_HOUR = 1
    client.force_login(users.county)
    household = world.households["grid1"]
    shown = client.post(reverse("admin:people_household_reveal_phone", args=[household.pk]))
    assert shown.status_code == 200 and PHONES["grid1"] in shown.content.decode()
    response = client.get(reverse("admin:people_household_changelist"), {"q": PHONES["grid2"]})
    assert response.status_code == 429


def test_the_autocomplete_search_by_a_number_is_guarded_too(world, users, client, settings):
    settings.PHONE_REVEAL_LIMIT_PER_HOUR = 1
    client.force_login(users.county)
    params = {"app_label": "visits", "model_name": "visit", "field_name": "household", "term": PHONES["grid1"]}
    assert client.get(reverse("admin:autocomplete"), params).status_code == 200
    assert _reveals(users.county).count() == 1
    refused = client.get(reverse("admin:autocomplete"), {**params, "term": PHONES["grid2"]})
    assert refused.status_code == 429 and "上限" in refused.json()["error"]


def test_roles_that_call_households_search_numbers_freely(world, users, client):
    client.force_login(users.grid)
    response = client.get(reverse("admin:people_household_changelist"), {"q": PHONES["grid1"]})
    assert response.status_code == 200 and PHONES["grid1"] in response.content.decode()
    assert not _reveals(users.grid).exists()


def test_the_phone_pages_find_no_household_by_number_for_masked_roles(world, users, client):
    client.force_login(users.town)
    page = client.get(reverse("mobile:home"), {"q": PHONES["grid1"]})
    assert "一网格户" not in page.content.decode()
    client.force_login(users.grid)
    page = client.get(reverse("mobile:home"), {"q": PHONES["grid1"]})
    assert "一网格户" in page.content.decode()


@pytest.mark.parametrize(
    "url_name, params",
    [
        ("admin:people_household_changelist", {"phone": PHONES["grid1"]}),
        ("admin:people_household_changelist", {"phone__startswith": "1380"}),
        ("admin:campaigns_assignment_changelist", {"household__phone__startswith": "138"}),
        ("admin:people_resident_changelist", {"phone__gte": "13800000000"}),
        ("admin:accounts_user_changelist", {"phone__contains": "0000"}),
    ],
)
def test_no_query_string_lookup_may_touch_a_phone_for_masked_roles(url_name, params, world, users, client):
    client.force_login(users.county)
    response = client.get(reverse(url_name), params)
    assert response.status_code == 400
    assert PHONES["grid1"] not in response.content.decode()
    client.force_login(users.grid)
    if url_name == "admin:people_household_changelist":
        assert client.get(reverse(url_name), params).status_code == 200


def test_masked_phone_columns_do_not_sort(world, users, rf):
    from django.contrib import admin

    from outreach.people.models import Household

    household_admin = admin.site._registry[Household]

    def phone_column(user):
        request = rf.get("/")
        request.user = user
        return next(c for c in household_admin.get_list_display(request) if getattr(c, "__name__", "") == "phone")

    assert phone_column(users.county).admin_order_field is None
    assert phone_column(users.grid).admin_order_field == "phone"
