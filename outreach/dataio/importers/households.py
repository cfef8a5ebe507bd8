"""住户花名册: households matched by 户编号, else village + 户主姓名 + phone (or address), written in bulk."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from outreach.dataio.cells import is_masked, text
from outreach.dataio.columns import clean, header
from outreach.dataio.importers.base import PREVIEW_ROWS, Importer
from outreach.dataio.permissions import scoped
from outreach.dataio.results import RowError
from outreach.dataio.writers import chunks, insert_rows, reserve_ids
from outreach.lib.names import clean_name
from outreach.lib.phones import mask_phone
from outreach.people.models import Household
from outreach.people.services import DateChange, affects_from, roster_corrections

ROSTER_COLS = ("roster_start", "roster_end", "end_reason")

NO_FLAGS: dict = {}  # shared by the rows that set no flag (never written to)
# What each roster column's cleaner makes of an empty cell, so a sheet without those columns skips them.
EMPTY_ROSTER = {key: clean(key, None)[0] for key in ROSTER_COLS}
FLAG_KEYS = ("elderly_alone", "left_behind", "student_family", "no_smartphone")
# The columns a new household is written with (one COPY on PostgreSQL); the benchmark's floor copies the same.
NEW_HOUSEHOLD_FIELDS = ("id", "head_name", "phone", "address", "size", "note", "county", "town", "village", "grid",
                        *FLAG_KEYS, *ROSTER_COLS, "created_at", "updated_at")  # fmt: skip


@dataclass(slots=True)
class HouseholdRow:
    """One checked row of a roster or 责任分工表: slotted, since a county's file holds 100,000 of them."""

    row: int
    sheet: str
    id: int | None
    head_name: str
    phone: str
    masked_phone: str | None
    address: str
    size: int | None
    note: str
    village_id: int
    grid: tuple | None
    flags: dict
    key: tuple = ()
    values: dict | None = None
    pk: int | None = None
    changed: bool = False
    action: str = ""
    member: tuple | None = None
    roster: dict | None = None  # 列入/移出花名册日期 and 移出原因 as the file gives them
    why: str = ""  # 更正原因
    dates: list | tuple = ()  # (field, old, new, new_row) of each roster date the row sets


class HouseholdImporter(Importer):
    """住户花名册: households matched by 户编号, else village + 户主姓名 + phone (or address)."""

    kind = "households"
    subject = "住户花名册"
    preview_keys = ("town", "village", "grid", "head_name", "address", "size", "household_id")
    flag_keys = FLAG_KEYS

    cols = ("pk", "head_name", "phone", "address", "size", "note", "village_id", "grid_id", *flag_keys, *ROSTER_COLS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = timezone.localdate()
        self.load_places()
        self.records: list[dict] = []
        self.keys_seen: dict[tuple, int] = {}
        # A county's sheet names its few hundred villages over 100,000 rows: the cells of a place read well once
        # read well again. Only answers without an error are kept, so every bad row is still reported.
        self._places: dict[tuple, tuple[int | None, int]] = {}
        # Roster dates and their changes are a handful of distinct values: one shared (read-only) copy of each.
        self._rosters: dict[tuple, dict] = {}
        self._new_dates: dict[tuple, tuple] = {}
        self._dates_ok: set[tuple] = set()

    def roster_of(self, start, end, reason) -> dict:
        """The shared, never-changed dict of these roster values (100,000 rows hold a few distinct ones)."""
        key = (start, end, reason)
        roster = self._rosters.get(key)
        if roster is None:
            roster = self._rosters[key] = {"roster_start": start, "roster_end": end, "end_reason": reason}
        return roster

    def parse_household(self, row_no, values):
        ok = True
        place = (values.get("town"), values.get("village"))
        known = self._places.get(place)
        if known is not None:
            town_id, village_id = known
        else:
            town_id, town_ok = self.town_of(row_no, values)
            ok &= town_ok
            village_id = self.village_of(row_no, values, town_id) if town_ok else None
            ok &= village_id is not None
            if ok:
                self._places[place] = (town_id, village_id)
        head = clean_name(text(values.get("head_name")))[:30]
        if not head:
            self.error(row_no, "head_name", "不能为空")
            ok = False
        raw_phone = values.get("head_phone")
        masked = is_masked(raw_phone)
        phone, phone_ok = ("", True) if masked else self.clean(row_no, values, "head_phone")
        size, size_ok = self.clean(row_no, values, "size")
        hid, id_ok = self.clean(row_no, values, "household_id")
        ok &= phone_ok and size_ok and id_ok
        if masked and hid is None:
            self.error(row_no, "head_phone", "电话号码被隐藏（带*），请填写完整号码")
            ok = False
        flags = {}
        for key in self.flag_keys:
            if key in values and values[key] not in (None, ""):
                flags[key], flag_ok = self.clean(row_no, values, key)
                ok &= flag_ok
        note = text(values.get("note"))[:200]
        if "独居" in note and "elderly_alone" not in flags:
            flags["elderly_alone"] = True
        roster = {}
        for key in ROSTER_COLS:
            if values.get(key) in (None, ""):
                roster[key] = EMPTY_ROSTER[key]
            else:
                roster[key], key_ok = self.clean(row_no, values, key)
                ok &= key_ok
        if roster["roster_end"] and not roster["end_reason"]:
            self.error(row_no, "end_reason", "填写了移出花名册日期，须写明移出原因（迁出、合户、重复登记等）")
            ok = False
        if roster["end_reason"] and not roster["roster_end"]:
            self.error(row_no, "roster_end", "写了移出原因，须填写移出花名册日期")
            ok = False
        if not ok:
            return None
        grid = self.grid_of(values, village_id)
        address = text(values.get("address"))[:200]
        rec = HouseholdRow(
            row=row_no,
            sheet=self.sheet.name,
            id=hid,
            head_name=head,
            phone=phone,
            masked_phone=text(raw_phone) if masked else None,
            address=address,
            size=size,
            note=note,
            village_id=village_id,
            grid=grid,
            flags=flags or NO_FLAGS,
            roster=self.roster_of(roster["roster_start"], roster["roster_end"], roster["end_reason"]),
            why=text(values.get("correction_reason"))[:300],
        )
        key = (village_id, head, "p", phone) if phone else (village_id, head, "a", address)
        if hid is None and not masked:
            if key in self.keys_seen:
                self.error(row_no, "head_name", f"与本表第{self.keys_seen[key]}行是同一户（户主姓名和电话/住址相同）")
                return None
            self.keys_seen[key] = row_no
        rec.key = key
        return rec

    def check_row(self, row_no, values):
        rec = self.parse_household(row_no, values)
        if rec is not None:
            rec.values = values if len(self.records) < PREVIEW_ROWS else None
            self.records.append(rec)

    def load_households(self):
        """The existing households this file names, in scope: by 户编号, or by a key of one of its rows.

        The file's villages are read in a few streamed queries, but only the households a row of the file can
        match are kept, so memory grows with the file and not with the county's roster.
        """
        village_ids = {r.village_id for r in self.records}
        ids = {r.id for r in self.records if r.id is not None}
        # Every key of a row (by phone, by address) starts with its village and 户主姓名.
        wanted = {(r.village_id, r.head_name) for r in self.records}
        self.existing: dict[int, tuple] = {}
        self.by_key: dict[tuple, int] = {}
        self.claimed: dict[int, int] = {}
        cols = self.cols
        base = scoped(self.user, Household.objects.filter(county=self.county))
        queries = [Q(village_id__in=c) for c in chunks(sorted(village_ids), 500)]
        queries += [Q(pk__in=c) for c in chunks(sorted(ids), 500)]
        for q in queries:
            for row in base.filter(q).values_list(*cols).iterator(chunk_size=5000):
                pk, head, phone, address, _size, _note, village_id = row[:7]
                if pk in self.existing:
                    continue
                head = clean_name(head)
                if pk not in ids and (village_id, head) not in wanted:
                    continue  # most of a village's roster: asked before any key of it is made
                self.existing[pk] = row
                if phone:
                    self.by_key.setdefault((village_id, head, "p", phone), pk)
                # By address as well: a row without a phone finds a household that has one, and a row with a
                # phone finds the same household recorded earlier without one.
                self.by_key.setdefault((village_id, head, "a", address), pk)

    def resolve_household(self, rec) -> bool:
        """Sets rec.pk (None when new) and rec.changed; False after an error."""
        if rec.id is not None:
            row = self.existing.get(rec.id)
            if row is None:
                self.sheet_name_error(rec, "household_id", f"户编号 {rec.id} 不存在或不在您的管辖范围内")
                return False
            if rec.masked_phone is not None:
                if mask_phone(row[2]) != rec.masked_phone:
                    self.sheet_name_error(rec, "head_phone", "电话号码被隐藏（带*），只能原样保留或填写完整号码")
                    return False
                rec.phone = row[2]
            rec.pk = rec.id
        else:
            rec.pk = self.by_key.get(rec.key)
            if rec.pk is None and rec.phone and rec.address:
                pk = self.by_key.get((rec.village_id, rec.head_name, "a", rec.address))
                if pk is not None and not self.existing[pk][2]:
                    rec.pk = pk
        if rec.pk is not None:
            first = self.claimed.setdefault(rec.pk, (rec.sheet, rec.row))
            if first != (rec.sheet, rec.row):
                where = f"第{first[1]}行" if first[0] == rec.sheet else f"“{first[0]}”第{first[1]}行"
                self.sheet_name_error(rec, "head_name", f"与本表{where}是同一户")
                return False
        if rec.pk is None:
            rec.changed = True
            start, end = rec.roster["roster_start"] or self.today, rec.roster["roster_end"]
            rec.roster = self.roster_of(start, end, rec.roster["end_reason"])
            dates = self._new_dates.get((start, end))
            if dates is None:
                dates = (("roster_start", None, start, True),) + ((("roster_end", None, end, True),) if end else ())
                self._new_dates[(start, end)] = dates
            rec.dates = dates
            # Whether these dates need a 更正原因 depends on the dates alone: a good answer holds for the next row.
            if (dates, bool(rec.why)) in self._dates_ok:
                return True
            ok = self.check_dates(rec, start, end)
            if ok:
                self._dates_ok.add((dates, bool(rec.why)))
            return ok
        row = self.existing[rec.pk]
        current = dict(zip(self.cols, row, strict=True))
        if rec.village_id != current["village_id"]:
            # A move changes two villages' past figures if done in place: it is two roster facts instead.
            self.sheet_name_error(
                rec,
                "village",
                f"户编号 {rec.pk} 在{self.village_names.get(current['village_id'], ('其他村',))[0]}的花名册中，"
                "不能直接改到别的村：迁到别的村请在这一行填写移出花名册日期和移出原因“迁出”，再在新村另起一行（不填户编号）",
            )
            return False
        grid_id = self.grids.get(rec.grid) if rec.grid else current["grid_id"]
        if rec.grid and grid_id is None:
            grid_id = "new"
        wanted = {
            "head_name": rec.head_name,
            "phone": rec.phone,
            "address": rec.address or current["address"],
            "size": rec.size if rec.size is not None else current["size"],
            "note": rec.note,
            "village_id": rec.village_id,
            "grid_id": grid_id,
        }
        for key in self.flag_keys:
            wanted[key] = rec.flags.get(key, current[key])
        # Blank roster cells keep what is stored; an end already recorded is reopened only in the admin.
        roster = self.roster_of(*(rec.roster[key] or current[key] for key in ROSTER_COLS))
        rec.roster = roster
        wanted.update(roster)
        rec.dates = tuple(
            (key, current[key], roster[key], False)
            for key in ("roster_start", "roster_end")
            if roster[key] != current[key]
        )
        rec.changed = any(wanted[k] != current[k] for k in wanted)
        return self.check_dates(rec, roster["roster_start"], roster["roster_end"])

    def check_dates(self, rec, start, end) -> bool:
        """An end before the start is refused; a date set to a past day (事后更正) needs the 更正原因 column."""
        if end is not None and end < start:
            self.sheet_name_error(rec, "roster_end", "移出花名册日期不能早于列入花名册日期")
            return False
        for key, old, new, new_row in rec.dates:
            first = affects_from(DateChange(None, key, old, new, new_row), self.today)
            if first is not None and not rec.why:
                self.sheet_name_error(
                    rec,
                    key,
                    f"{new:%Y-%m-%d}早于今天，会改变{first:%Y-%m-%d}以来已经发布的数字（事后更正），请在“更正原因”列写明原因",
                )
                return False
        return True

    def sheet_name_error(self, rec, key, message):
        column = self._headers.get(rec.sheet, {}).get(key) or header(key)
        self.result.errors.append(RowError(rec.sheet, rec.row, column, message))

    def finish_check(self):
        self.load_households()
        good = []
        for rec in self.records:
            if self.resolve_household(rec):
                good.append(rec)
        self.records = good
        self.tally()
        self.grid_note()

    def tally(self):
        for rec in self.records:
            action = "new" if rec.pk is None else ("updated" if rec.changed else "unchanged")
            rec.action = action
            self.count(action)
            if rec.values is not None and len(self.result.preview) < PREVIEW_ROWS:
                self.result.preview.append(
                    {
                        "action": action,
                        "sheet": rec.sheet,
                        "row": rec.row,
                        "values": {header(k): text(v) for k, v in rec.values.items() if k in self.preview_keys},
                    }
                )
            rec.values = None

    def household_obj(self, rec, pk=None) -> Household:
        town_id = self.village_names[rec.village_id][1]
        grid_id = self.grids.get(rec.grid) if rec.grid else None
        obj = Household(
            pk=pk,
            head_name=rec.head_name,
            phone=rec.phone,
            address=rec.address,
            size=rec.size or 1,
            note=rec.note,
            village_id=rec.village_id,
            town_id=town_id,
            county_id=self.county.pk,
            grid_id=grid_id,
            **{k: rec.flags.get(k, False) for k in self.flag_keys},
            **{k: rec.roster[k] or ("" if k == "end_reason" else None) for k in ROSTER_COLS},
        )
        return obj

    def write_households(self):
        self.create_grids()
        now = timezone.now()
        new = [r for r in self.records if r.pk is None]
        stamp = connection.ops.adapt_datetimefield_value(now)

        def rows():
            for rec, pk in zip(new, reserve_ids(Household, len(new)), strict=True):
                rec.pk = pk
                flags = rec.flags
                yield (
                    pk, rec.head_name, rec.phone, rec.address, rec.size or 1, rec.note,
                    self.county.pk, self.village_names[rec.village_id][1], rec.village_id,
                    self.grids.get(rec.grid) if rec.grid else None,
                    *(bool(flags.get(k, False)) for k in self.flag_keys),
                    rec.roster["roster_start"], rec.roster["roster_end"], rec.roster["end_reason"] or "",
                    stamp, stamp,
                )  # fmt: skip

        insert_rows(Household, NEW_HOUSEHOLD_FIELDS, rows())
        changed = [r for r in self.records if r.action == "updated"]
        for chunk in chunks(changed):
            objs = []
            for rec in chunk:
                current = dict(zip(self.cols, self.existing[rec.pk], strict=True))
                obj = self.household_obj(rec, pk=rec.pk)
                if not rec.address:
                    obj.address = current["address"]
                if rec.size is None:
                    obj.size = current["size"]
                if not rec.grid:
                    obj.grid_id = current["grid_id"]
                for key in self.flag_keys:
                    setattr(obj, key, rec.flags.get(key, current[key]))
                obj.updated_at = now
                objs.append(obj)
            Household.objects.bulk_update(
                objs,
                [
                    "head_name",
                    "phone",
                    "address",
                    "size",
                    "note",
                    "village",
                    "town",
                    "county",
                    "grid",
                    *self.flag_keys,
                    *ROSTER_COLS,
                    "updated_at",
                ],
            )
        self.record_corrections()
        self.result.village_ids |= {r.village_id for r in self.records if r.action != "unchanged"}

    def record_corrections(self):
        """Every row that back-dated a roster date, as a RosterCorrection with the row's 更正原因 (bulk)."""
        by_reason: dict[str, list[DateChange]] = {}
        past: dict[tuple, bool] = {}  # rows share their dates (``_new_dates``): ask once whether any is past
        for rec in self.records:
            if not rec.dates:
                continue
            if rec.dates not in past:
                past[rec.dates] = any(
                    affects_from(DateChange(None, *date), self.today) is not None for date in rec.dates
                )
            if not past[rec.dates]:
                continue
            for key, old, new, new_row in rec.dates:
                if affects_from(DateChange(None, key, old, new, new_row), self.today) is None:
                    continue
                obj = self.household_obj(rec, pk=rec.pk)
                by_reason.setdefault(rec.why, []).append(DateChange(obj, key, old, new, new_row))
        for why, changes in by_reason.items():
            roster_corrections(changes, user=self.user, reason=f"花名册导入：{why}")

    def write(self):
        self.write_households()
