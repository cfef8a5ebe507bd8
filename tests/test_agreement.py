"""One figure, five readings: 注册率 and 入户率 of every county and town agree on every path that shows them.

The paths: the ranking page (HTML), its Excel export, ``leaderboard --json``, the registrations export
(注册率 only: it has no field figures) and a bulletin issued now (its page). Real files are written and read
back with openpyxl. Each world is read at one date: the demo (``seed_demo``, 2021-08-13) and a seeded random
small world with town reports, a report without a population and visits after the date that must not count.

Excel cells are compared as the string the page shows: today the rate cells are text ("22.01%"); once rates are
written as numeric cells formatted as percentages they read back as 0.2201, and ``shown`` turns both into
"22.01%". So this test holds before and after that change.
"""

import datetime as dt
import io
import json
import random
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import openpyxl
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from outreach.campaigns.models import Campaign
from outreach.dashboards.bulletins import EmptyBulletin, default_metric, issue_bulletin
from outreach.dataio.exporters import export_file
from outreach.lib import metrics as m
from outreach.places.models import County, Town, Village
from outreach.registrations.models import RegistrationReport
from outreach.visits.models import FraudType
from tests import factories

pytestmark = pytest.mark.django_db

RATES = {"registration_rate": "注册率", "visit_rate": "入户率"}


def shown(value) -> str:
    """A rate cell as the pages show it: text stays as it is, a number (a fraction) becomes "12.34%"."""
    if value is None or value == "" or value == m.DASH:
        return m.DASH
    if isinstance(value, int | float):
        percent = (Decimal(repr(value)) * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return f"{percent}%"
    return str(value).strip()


class _Tables(HTMLParser):
    """Every table of a page as lists of cell texts (header cells included)."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _by_name(rows, name_column: str, wanted: dict) -> dict:
    """{unit name: {metric key: shown value}} from rows whose first row with ``name_column`` is the header."""
    header_at = next(i for i, row in enumerate(rows) if name_column in row)
    header = [str(h) if h is not None else "" for h in rows[header_at]]
    columns = {key: header.index(label) for key, label in wanted.items() if label in header}
    out = {}
    for row in rows[header_at + 1 :]:
        name = row[header.index(name_column)]
        if name:
            out[str(name)] = {key: shown(row[col]) for key, col in columns.items()}
    return out


def from_html(html: str) -> dict:
    parser = _Tables()
    parser.feed(html)
    table = next(t for t in parser.tables if any("单位" in row and "注册率" in row for row in t))
    return _by_name(table, "单位", RATES)


def from_xlsx(data: bytes, name_column: str, wanted=RATES) -> dict:
    sheet = openpyxl.load_workbook(io.BytesIO(data), data_only=True).worksheets[0]
    return _by_name([list(r) for r in sheet.iter_rows(values_only=True)], name_column, wanted)


def from_leaderboard(as_of, level="county", parent=None) -> dict:
    out = {}
    for key in RATES:
        args = ["--date", f"{as_of:%Y-%m-%d}", "--metric", key, "--json", "--level", level]
        if parent is not None:
            args += ["--parent", parent.code]
        buffer = io.StringIO()
        call_command("leaderboard", *args, stdout=buffer)
        for row in json.loads(buffer.getvalue()):
            out.setdefault(row["name"], {})[key] = row["value"]
    return out


def from_registrations_export(tmp_path, as_of) -> tuple[dict, dict]:
    """{county: 注册率} and {(county, town): 注册率} of the registrations export of ``as_of``."""
    path = tmp_path / "registrations.xlsx"
    export_file("registrations", path, as_of=as_of)
    sheet = openpyxl.load_workbook(path, data_only=True).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header_at = next(i for i, row in enumerate(rows) if "注册率" in row)
    header = rows[header_at]
    county_col, town_col, rate_col = header.index("县（市、区）"), header.index("镇（街道）"), header.index("注册率")
    counties, towns = {}, {}
    for row in rows[header_at + 1 :]:
        if not row[county_col]:
            continue
        if row[town_col]:
            towns[(row[county_col], row[town_col])] = shown(row[rate_col])
        else:
            counties[row[county_col]] = shown(row[rate_col])
    return counties, towns


def assert_agree(client, tmp_path, as_of, city_user):
    """Every county of the city ranking and every town of every county's town ranking, on every path."""
    date = f"{as_of:%Y-%m-%d}"
    export_counties, export_towns = from_registrations_export(tmp_path, as_of)
    scopes = [(None, "/dashboard/rank/county/", "county")]
    scopes += [(c, f"/dashboard/rank/town/{c.pk}/", "town") for c in County.objects.order_by("code")]
    compared = []
    for county, url, level in scopes:
        page = from_html(client.get(f"{url}?date={date}").content.decode())
        excel = from_xlsx(client.get(f"{url}?date={date}&export=xlsx").content, "单位")
        board = from_leaderboard(as_of, level, county)
        # The draft's preview, and the bulletin when it may be issued (a county's towns may have no figure).
        metric = default_metric(level, county, as_of).key
        query = f"date={date}&metric={metric}" + (f"&county={county.pk}" if county else "")
        preview = from_html(client.get(f"/dashboard/bulletins/draft/?{query}").content.decode())
        try:
            bulletin = issue_bulletin(as_of=as_of, metric=metric, user=city_user, level=level, parent_county=county)
        except EmptyBulletin:
            frozen = preview
        else:
            frozen = from_html(client.get(f"/dashboard/bulletins/{bulletin.pk}/").content.decode())
        assert preview == frozen, url
        assert set(page) == set(excel) == set(board) == set(frozen) and page, url
        for name, values in page.items():
            assert excel[name] == values, (url, name, "Excel")
            assert board[name] == values, (url, name, "leaderboard")
            assert frozen[name] == values, (url, name, "bulletin")
            key = name if county is None else (county.name, name)
            exported = (export_counties if county is None else export_towns).get(key)
            if exported is not None:
                assert exported == values["registration_rate"], (url, name, "registrations export")
            else:
                # No report of that date: nothing to export, and no rate shown anywhere.
                assert values["registration_rate"] == m.DASH, (url, name)
            compared.append(values)
    return compared


def test_it_agrees_on_the_demo(places, users, tmp_path):
    call_command("seed_demo", verbosity=0)
    client = Client()
    client.force_login(users.city)
    as_of = dt.date(2021, 8, 13)
    compared = assert_agree(client, tmp_path, as_of, users.city)
    assert len(compared) == 13 + Town.objects.count()
    # The reference bulletin's figure, read the same way.
    page = from_html(client.get("/dashboard/rank/county/?date=2021-08-13").content.decode())
    assert page["新绛县"]["registration_rate"] == "22.01%"


def random_world(rng: random.Random, as_of: dt.date) -> None:
    """Three counties with households, visits (some after ``as_of``) and county and town reports."""
    campaign = factories.make_campaign(
        "随机", start_date=as_of - dt.timedelta(days=40), end_date=as_of + dt.timedelta(days=40)
    )
    scripts = list(FraudType.objects.values_list("pk", flat=True)[:3])
    counties = list(County.objects.filter(code__in=["140825000000", "140824000000", "140802000000"]))
    for county in counties:
        population = rng.choice([None, rng.randint(50_000, 600_000)])
        RegistrationReport.objects.create(
            county=county,
            as_of=as_of,
            registered=rng.randint(1_000, 120_000),
            verified=rng.randint(500, 1_000),
            population=population,
        )
        RegistrationReport.objects.create(
            county=county, as_of=as_of - dt.timedelta(days=2), registered=rng.randint(1_000, 100_000), verified=1
        )
        for town in Town.objects.filter(county=county).order_by("code")[:3]:
            if rng.random() < 0.8:
                RegistrationReport.objects.create(
                    county=county,
                    town=town,
                    as_of=as_of,
                    registered=rng.randint(100, 9_000),
                    verified=rng.randint(50, 100),
                    population=rng.choice([None, rng.randint(9_000, 80_000)]),
                )
            for village in Village.objects.filter(town=town, is_placeholder=False).order_by("code")[:2]:
                member = factories.make_member(village)
                for _ in range(rng.randint(1, 9)):
                    household = factories.make_household(village)
                    factories.make_assignment(household, member, campaign)
                    for _ in range(rng.randint(0, 2)):
                        day = as_of + dt.timedelta(days=rng.randint(-35, 5))
                        good = rng.random() < 0.7
                        factories.make_visit(
                            household,
                            visitor=member,
                            campaign=campaign,
                            visited_at=timezone.make_aware(dt.datetime.combine(day, dt.time(10))),
                            met_person=True,
                            explained=good,
                            signed=rng.random() < 0.8,
                            fraud_types=scripts[: rng.randint(1, 3)] if good else [],
                        )


@pytest.mark.parametrize("seed", [11, 2021])
def test_it_agrees_on_a_random_small_world(places, users, tmp_path, seed):
    as_of = dt.date(2022, 5, 20)
    random_world(random.Random(seed), as_of)
    assert Campaign.objects.count() == 1
    client = Client()
    client.force_login(users.city)
    compared = assert_agree(client, tmp_path, as_of, users.city)
    # Not a comparison of dashes: counties and towns with figures of both kinds were read on every path.
    assert sum(v["registration_rate"] != m.DASH for v in compared) >= 5
    assert sum(v["visit_rate"] not in (m.DASH, "0.00%") for v in compared) >= 5


def test_it_agrees_on_a_rate_half_way_between_two_hundredths(places, users, tmp_path):
    as_of = dt.date(2022, 5, 20)
    RegistrationReport.objects.create(county=places.xinjiang, as_of=as_of, registered=1, verified=1, population=32)
    client = Client()
    client.force_login(users.city)
    page = from_html(client.get("/dashboard/rank/county/?date=2022-05-20").content.decode())
    assert page["新绛县"]["registration_rate"] == "3.13%"  # 1 ÷ 32 = 3.125%, half up
    assert_agree(client, tmp_path, as_of, users.city)


def test_it_agrees_on_a_past_date_whatever_the_roster_does_today(places, users, tmp_path):
    """A day already past read again after today's roster changes: the same figures, on every path."""
    from outreach.people.models import Household, HouseholdEndReason
    from outreach.people.services import end_household

    as_of = dt.date(2022, 5, 20)
    random_world(random.Random(7), as_of)
    client = Client()
    client.force_login(users.city)
    before = assert_agree(client, tmp_path, as_of, users.city)
    # Today: a household added in every village that has one, every fifth household struck off.
    villages = set(Household.objects.values_list("village", flat=True))
    for village in Village.objects.filter(pk__in=villages):
        factories.make_household(village, roster_start=timezone.localdate())
    for household in Household.objects.order_by("pk")[::5]:
        end_household(household, day=timezone.localdate(), reason=HouseholdEndReason.MOVED)
    after = assert_agree(client, tmp_path, as_of, users.city)
    assert after == before
    assert sum(v["visit_rate"] not in (m.DASH, "0.00%") for v in after) >= 5
