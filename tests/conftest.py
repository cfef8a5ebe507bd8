"""One shared world for the tests: the real 运城 divisions, two counties, their towns, villages and grids.

Divisions are loaded once into the test database; tests that flush it (live_server) get them back from
the ``places`` fixture.
"""

from types import SimpleNamespace

import pytest

from outreach.places.models import County, Town, Village
from outreach.places.services import load_divisions
from tests import factories


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 costs ~0.2 s a user; tests check behaviour, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        load_divisions()
    yield
    # Before the test database is dropped: a live server's request threads may still hold idle sessions.
    from tests.browser import end_other_sessions

    with django_db_blocker.unblock():
        end_other_sessions()


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


@pytest.fixture
def users(places):
    """One user per role, in two counties, two towns and two grids (each comment says what it may see)."""
    from outreach.accounts.models import Role

    make = factories.make_user
    grid_worker = make(Role.GRID, username="grid_zhouzhuang1", county=places.xinjiang, town=places.longxing)
    grid_worker.grids.set([places.zhouzhuang_grid])  # 周庄村第1网格 only
    other_grid_worker = make(Role.GRID, username="grid_zhouzhuang2", county=places.xinjiang, town=places.longxing)
    other_grid_worker.grids.set([places.zhouzhuang_grid2])  # 周庄村第2网格 only
    return SimpleNamespace(
        city=make(Role.CITY, username="city"),  # everything
        county=make(Role.COUNTY, username="county_xinjiang", county=places.xinjiang),  # 新绛县
        other_county=make(Role.COUNTY, username="county_jishan", county=places.jishan),  # 稷山县
        town=make(Role.TOWN, username="town_longxing", county=places.xinjiang, town=places.longxing),  # 龙兴镇
        other_town=make(Role.TOWN, username="town_sanquan", county=places.xinjiang, town=places.sanquan),  # 三泉镇
        grid=grid_worker,
        other_grid=other_grid_worker,
        member=make(Role.MEMBER, username="member_zhouzhuang", county=places.xinjiang),  # households assigned to them
    )


@pytest.fixture
def dataio_settings(settings, tmp_path):
    """Uploads, previews and exports in a temporary DATAIO_DIR; import and export jobs run inside the call."""
    settings.DATAIO_DIR = tmp_path / "dataio"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
