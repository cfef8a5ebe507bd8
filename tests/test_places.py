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
