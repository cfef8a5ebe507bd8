"""国家反诈中心App注册通报: one row per 县（市、区） or 镇（街道）, upserted for the bulletin's date."""

import datetime as dt
import re
from collections import defaultdict

from django.utils import timezone

from outreach.dataio.cells import text
from outreach.dataio.columns import header
from outreach.dataio.importers.base import PREVIEW_ROWS, Importer
from outreach.dataio.permissions import scoped
from outreach.dataio.writers import BATCH
from outreach.lib.names import clean_name
from outreach.places.models import County, Town
from outreach.registrations.models import RegistrationReport

_DATE_FULL = re.compile(r"(\d{4})\s*[年\-./]\s*(\d{1,2})\s*[月\-./]\s*(\d{1,2})")
_DATE_SHORT = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*日")


def date_from_text(value: str, year: int | None = None) -> dt.date | None:
    """The first date written in a title: "2021年8月13日", "2021-08-13", or "8月13日" (this year)."""
    if not value:
        return None
    m = _DATE_FULL.search(value)
    try:
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _DATE_SHORT.search(value)
        if m:
            return dt.date(year or timezone.localdate().year, int(m.group(1)), int(m.group(2)))
    except ValueError:
        return None
    return None


class RegistrationImporter(Importer):
    """App bulletin: one row per 县（市、区） or 镇（街道）, upserted for the bulletin's date."""

    kind = "registrations"
    subject = "国家反诈中心App注册通报"
    preview_keys = ("county", "town", "population", "registered", "verified")
    _SKIP = {"合计", "全市", "总计", "运城市", "全县", "全区"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.counties = {}
        for pk, name in scoped(self.user, County.objects.all()).values_list("pk", "name"):
            self.counties[clean_name(name)] = pk
        self.county_names = {pk: name for name, pk in self.counties.items()}
        self.towns_by_county: dict[int, dict[str, int]] = defaultdict(dict)
        for pk, name, county_id in scoped(self.user, Town.objects.all()).values_list("pk", "name", "county_id"):
            self.towns_by_county[county_id][clean_name(name)] = pk
        self.records = []
        self.seen = {}

    def use_sheet(self, sheet):
        super().use_sheet(sheet)
        self.sheet_date = self.as_of or date_from_text(" ".join([sheet.title, *sheet.meta]))

    def _match(self, names: dict, name: str):
        if name in names:
            return names[name]
        hits = [pk for known, pk in names.items() if known.startswith(name) or name.startswith(known)]
        return hits[0] if len(hits) == 1 else None

    def check_row(self, row_no, values):
        county_name = clean_name(text(values.get("county")))
        town_name = clean_name(text(values.get("town")))
        if (town_name or county_name) in self._SKIP:
            return
        if self.sheet_date is None:
            self.error(0, "", "无法确定数据日期：请在标题中写明日期（如“截至2021年8月13日”）或指定日期")
            self.sheet_date = False
        if not self.sheet_date:
            return
        county_id = None
        if county_name:
            county_id = self._match(self.counties, county_name)
            if county_id is None:
                self.error(row_no, "county", f"没有“{county_name}”，或不在您的管辖范围内")
                return
        elif self.county is not None:
            county_id = self.county.pk
        town_id = None
        if town_name:
            if county_id is None:
                self.error(row_no, "town", "乡镇数据须指定县（市、区）")
                return
            town_id = self._match(self.towns_by_county.get(county_id, {}), town_name)
            if town_id is None:
                self.error(row_no, "town", f"{self.county_names.get(county_id, '')}下没有“{town_name}”")
                return
        if county_id is None:
            self.error(row_no, "county", "不能为空")
            return
        ok = True
        numbers = {}
        for key, required in (("registered", True), ("verified", True), ("population", False)):
            value, cell_ok = self.clean(row_no, values, key)
            if not cell_ok:
                ok = False
            elif value is None and required:
                self.error(row_no, key, "不能为空")
                ok = False
            numbers[key] = value
        if not ok:
            return
        if numbers["verified"] > numbers["registered"]:
            self.error(row_no, "verified", "实名用户数不能大于安装注册人数")
            return
        key = (county_id, town_id, self.sheet_date)
        if key in self.seen:
            self.error(row_no, "town" if town_id else "county", f"与本表第{self.seen[key]}行重复")
            return
        self.seen[key] = row_no
        self.records.append({"key": key, **numbers, "values": values, "row": row_no, "sheet": self.sheet.name})

    def finish_check(self):
        dates = {r["key"][2] for r in self.records}
        county_ids = {r["key"][0] for r in self.records}
        self.existing = {}
        if self.records:
            qs = RegistrationReport.objects.filter(as_of__in=dates, county_id__in=county_ids)
            for pk, c, t, d, reg, ver, pop in qs.values_list(
                "pk", "county_id", "town_id", "as_of", "registered", "verified", "population"
            ):
                self.existing[(c, t, d)] = (pk, reg, ver, pop)
        for rec in self.records:
            current = self.existing.get(rec["key"])
            if current is None:
                action = "new"
            elif (rec["registered"], rec["verified"]) != current[1:3] or (
                rec["population"] is not None and rec["population"] != current[3]
            ):
                action = "updated"
            else:
                action = "unchanged"
            rec["action"] = action
            self.count(action)
            if len(self.result.preview) < PREVIEW_ROWS:
                shown = {header(k): text(v) for k, v in rec["values"].items() if k in self.preview_keys}
                shown["数据日期"] = rec["key"][2].isoformat()
                self.result.preview.append(
                    {"action": action, "sheet": rec["sheet"], "row": rec["row"], "values": shown}
                )
            rec.pop("values")

    def write(self):
        now = timezone.now()
        new, changed = [], []
        for rec in self.records:
            county_id, town_id, as_of = rec["key"]
            if rec["action"] == "new":
                new.append(
                    RegistrationReport(
                        county_id=county_id,
                        town_id=town_id,
                        as_of=as_of,
                        registered=rec["registered"],
                        verified=rec["verified"],
                        population=rec["population"],
                        source=self.source[:200],
                    )
                )
            elif rec["action"] == "updated":
                current = self.existing[rec["key"]]
                changed.append(
                    RegistrationReport(
                        pk=current[0],
                        registered=rec["registered"],
                        verified=rec["verified"],
                        population=rec["population"] if rec["population"] is not None else current[3],
                        updated_at=now,
                    )
                )
        RegistrationReport.objects.bulk_create(new, batch_size=BATCH)
        if changed:
            RegistrationReport.objects.bulk_update(changed, ["registered", "verified", "population", "updated_at"])
        touched = [r for r in self.records if r["action"] != "unchanged"]
        self.result.county_ids |= {r["key"][0] for r in touched}
        self.result.dates |= {r["key"][2] for r in touched}

    source = ""
