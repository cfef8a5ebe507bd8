"""One shared world for the tests: the real 运城 divisions, two counties, their towns, villages and grids.

Divisions are loaded once into the test database; tests that flush it (live_server) get them back from
the ``places`` fixture.
"""

from types import SimpleNamespace

import pytest

from outreach.places.models import County, Town, Village
from outreach.places.services import load_divisions
from tests import factories


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        load_divisions()


@pytest.fixture
def places(db):
    """Real places: 新绛县/龙兴镇/周庄村 and 三泉镇, and 稷山县 as the other county."""
    if not County.objects.exists():
        load_divisions()
    xinjiang = County.objects.get(code="140825000000")
    jishan = County.objects.get(code="140824000000")
    longxing = Town.objects.get(code="140825100000")
    sanquan = Town.objects.get(code="140825101000")
    jishan_town = Town.objects.filter(county=jishan).order_by("code").first()
    zhouzhuang = Village.objects.get(town=longxing, short_name="周庄村")
    wangzhuang = Village.objects.get(town=longxing, short_name="王庄村")
    sanquan_village = Village.objects.filter(town=sanquan).order_by("code").first()
    jishan_village = Village.objects.filter(town=jishan_town).order_by("code").first()
    return SimpleNamespace(
        xinjiang=xinjiang,
        jishan=jishan,
        longxing=longxing,
        sanquan=sanquan,
        jishan_town=jishan_town,
        zhouzhuang=zhouzhuang,
        wangzhuang=wangzhuang,
        sanquan_village=sanquan_village,
        jishan_village=jishan_village,
        zhouzhuang_grid=factories.make_grid(zhouzhuang, "第1网格"),
        zhouzhuang_grid2=factories.make_grid(zhouzhuang, "第2网格"),
        jishan_grid=factories.make_grid(jishan_village, "第1网格"),
    )


@pytest.fixture
def superuser(db):
    return factories.make_user(username="root", is_superuser=True)
