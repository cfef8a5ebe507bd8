import pytest
from django.db.models import Count, F

from outreach.places.models import County, Town, Village
from outreach.places.services import load_divisions


def test_it_loads_the_whole_city(places):
    assert County.objects.count() == 13
    assert Town.objects.count() == 161
    assert Village.objects.count() == 2395
    assert Village.objects.filter(is_placeholder=True).count() == 9


def test_it_loads_xinjiang_with_its_towns_and_villages(places):
    assert places.xinjiang.name == "新绛县"
    assert places.xinjiang.population == 282230
    assert places.xinjiang.population_year == 2020
    assert Town.objects.filter(county=places.xinjiang).count() == 11
    assert Village.objects.filter(county=places.xinjiang).count() == 164
    assert Village.objects.filter(county=places.xinjiang, is_placeholder=False).count() == 163


def test_it_leaves_yuanqu_population_empty_and_keeps_a_typed_one(places):
    yuanqu = County.objects.get(name="垣曲县")
    assert yuanqu.population is None
    assert "NOT FOUND" in yuanqu.population_source
    yuanqu.population = 197772
    yuanqu.save()
    load_divisions()
    yuanqu.refresh_from_db()
    assert yuanqu.population == 197772


def test_it_is_idempotent(places):
    load_divisions()
    load_divisions()
    assert County.objects.count() == 13
    assert Village.objects.count() == 2395
    # Every village still points at the county of its town.
    assert not Village.objects.exclude(county=F("town__county")).exists()


def test_it_matches_short_and_official_village_names(places):
    towns_villages = Village.objects.filter(town=places.longxing)
    assert list(Village.name_matches(towns_villages, "周庄村")) == [places.zhouzhuang]
    assert list(Village.name_matches(towns_villages, "周庄村委会")) == [places.zhouzhuang]
    assert list(Village.name_matches(towns_villages, " 周 庄村 ")) == [places.zhouzhuang]
    assert not Village.name_matches(towns_villages, "不存在村").exists()


def test_it_gives_short_names_unique_within_each_town(places):
    clashes = Village.objects.values("town", "short_name").annotate(n=Count("id")).filter(n__gt=1)
    assert not clashes.exists()


# --- a 片区 never spans counties (security round two, defect 7) -----------------------------------------


def test_a_zone_keeps_its_towns_inside_its_county_whatever_adds_them(places):
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from outreach.places.models import Zone

    zone = Zone.objects.create(county=places.xinjiang, name="第9作战宣传片区")
    zone.towns.add(places.longxing)
    with pytest.raises(ValidationError, match=places.jishan_town.name), transaction.atomic():
        zone.towns.add(places.jishan_town)
    with pytest.raises(ValidationError), transaction.atomic():
        places.jishan_town.zones.add(zone)
    assert list(zone.towns.all()) == [places.longxing]


def test_the_zone_admin_refuses_a_town_of_another_county_and_a_zone_user_never_reaches_it(places, users, client):
    from django.urls import reverse

    from outreach.accounts.models import Role
    from outreach.accounts.scoping import scope_queryset
    from outreach.people.models import Household
    from outreach.places.models import Zone
    from tests.factories import make_household, make_user

    client.force_login(users.city)
    response = client.post(
        reverse("admin:places_zone_add"),
        {"county": places.xinjiang.pk, "name": "跨县片区", "towns": [places.longxing.pk, places.jishan_town.pk]},
    )
    assert response.status_code == 200 and "不属于本县" in response.content.decode()
    assert not Zone.objects.filter(name="跨县片区").exists()
    # A zone saved before the rule, with a 稷山 town in it: its town user still sees only 新绛县.
    zone = Zone.objects.create(county=places.xinjiang, name="旧片区")
    Zone.towns.through.objects.create(zone=zone, town=places.jishan_town)
    Zone.towns.through.objects.create(zone=zone, town=places.longxing)
    zone_user = make_user(Role.TOWN, username="zone_user", county=places.xinjiang, zone=zone)
    jishan_home = make_household(places.jishan_village)
    assert not scope_queryset(zone_user, Household.objects.filter(pk=jishan_home.pk)).exists()
