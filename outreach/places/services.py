"""Loading the official divisions of 运城市 (NBS 统计用区划代码) and the census population."""

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from outreach.lib.names import short_village_name
from outreach.places.models import County, PopulationBasis, PopulationChange, Town, Village

DATA_DIR = Path(__file__).resolve().parent / "data"
DIVISIONS_CSV = DATA_DIR / "yuncheng_divisions.csv"
POPULATION_CSV = DATA_DIR / "yuncheng_population_2020.csv"
CENSUS_YEAR = 2020
PLACEHOLDER_SEGMENT = "498"


@dataclass
class LoadResult:
    counties: int
    towns: int
    villages: int
    populations: int


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@transaction.atomic
def load_divisions(divisions_csv: Path = DIVISIONS_CSV, population_csv: Path = POPULATION_CSV) -> LoadResult:
    """Create or update every county, town and village by its code; safe to run again.

    Names are refreshed from the file; a population already typed in for a county the file leaves blank
    (垣曲县) is kept, never overwritten with nothing.
    """
    rows = _read(divisions_csv)
    by_level = {"county": [], "town": [], "village": []}
    for row in rows:
        by_level[row["level"]].append(row)

    County.objects.bulk_create(
        [County(code=r["code"], name=r["name"]) for r in by_level["county"]],
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name"],
    )
    county_ids = dict(County.objects.values_list("code", "id"))
    Town.objects.bulk_create(
        [Town(code=r["code"], name=r["name"], county_id=county_ids[r["parent_code"]]) for r in by_level["town"]],
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "county"],
    )
    towns = {code: (tid, cid) for code, tid, cid in Town.objects.values_list("code", "id", "county_id")}
    Village.objects.bulk_create(
        [
            Village(
                code=r["code"],
                name=r["name"],
                short_name=short_village_name(r["name"]),
                town_id=towns[r["parent_code"]][0],
                county_id=towns[r["parent_code"]][1],
                is_placeholder=r["code"][9:] == PLACEHOLDER_SEGMENT,
            )
            for r in by_level["village"]
        ],
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "short_name", "town", "county", "is_placeholder"],
        batch_size=500,
    )

    populations = 0
    for row in _read(population_csv):
        county = County.objects.get(code=row["county_code"])
        if row["population"].strip():
            populations += 1
            if county.population_basis == PopulationBasis.CENSUS or county.population is None:
                set_population(
                    county,
                    int(row["population"]),
                    year=CENSUS_YEAR,
                    basis=PopulationBasis.CENSUS,
                    source=row["source"],
                    reason="载入第七次全国人口普查常住人口",
                )
        elif not county.population_source:
            county.population_source = row["source"]
            county.save(update_fields=["population_source"])
    return LoadResult(len(by_level["county"]), len(by_level["town"]), len(by_level["village"]), populations)


def set_population(
    county: County, value: int | None, *, year: int | None, basis: str, source: str, reason: str, user=None
) -> PopulationChange | None:
    """Change a county's 常住人口 (the denominator of every rate per person) and log it; None when nothing changed.

    The one way a population changes (the admin, ``load_divisions``): the log keeps who, when, old and new value,
    year, basis and why, and can never be edited. A figure typed in by hand needs a reason.
    """
    if value is not None and value <= 0:
        raise ValueError("常住人口须为正整数")
    unchanged = (county.population, county.population_year, county.population_basis, county.population_source) == (
        value,
        year,
        basis,
        source,
    )
    if unchanged:
        return None
    if not (reason or "").strip():
        raise ValueError("修改常住人口须写明原因")
    with transaction.atomic():
        change = PopulationChange.objects.create(
            county=county,
            old_value=county.population,
            new_value=value,
            old_year=county.population_year,
            new_year=year,
            old_basis=county.population_basis if county.population is not None else "",
            new_basis=basis,
            source=source,
            reason=reason.strip()[:300],
            changed_by=_who(user),
        )
        county.population, county.population_year = value, year
        county.population_basis, county.population_source = basis, source
        county.save(update_fields=["population", "population_year", "population_basis", "population_source"])
    return change


def _who(user) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return f"{user.get_username()}（{full}）"[:150] if full else user.get_username()[:150]
