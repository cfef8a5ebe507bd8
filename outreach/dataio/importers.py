"""The four kinds of import, each in two steps: check every row (lookups cached per file), then write in bulk.

An importer never writes while checking. ``check`` reads the sheets, resolves villages, grids, members and
households against caches loaded once per file (inside the importer's scope), and records what each row
would do; ``write`` then runs inside the caller's transaction with a handful of bulk statements.
"""

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from outreach.accounts.scoping import scope_queryset
from outreach.campaigns.models import Assignment
from outreach.campaigns.rules import import_campaign
from outreach.dataio.headers import header
from outreach.lib.names import clean_name, short_village_name
from outreach.lib.parse import Unparsable, parse_bool, parse_id, parse_int
from outreach.lib.parse import cell_text as text
from outreach.lib.phones import mask_phone, normalize_phone
from outreach.people.models import Household, PartyMember, PartyOrganization
from outreach.places.models import County, GridArea, Town, Village
from outreach.registrations.models import RegistrationReport

BATCH = 2000
PREVIEW_ROWS = 20
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")


@dataclass
class RowError:
    sheet: str
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"sheet": self.sheet, "row": self.row, "column": self.column, "message": self.message}

    def __str__(self):
        where = f"{self.sheet} 第{self.row}行" if self.row else self.sheet
        return f"{where} {self.column}：{self.message}" if self.column else f"{where}：{self.message}"


@dataclass
class Outcome:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    village_ids: set = field(default_factory=set)
    county_ids: set = field(default_factory=set)
    dates: set = field(default_factory=set)


def scoped(user, queryset):
    """``queryset`` in ``user``'s scope; a command run without a user (the server's operator) sees all."""
    return queryset if user is None else scope_queryset(user, queryset)


def _is_masked(value) -> bool:
    return isinstance(value, str) and "*" in value


def _phone(value):
    """(digits, error message or "") for a phone cell; empty is allowed."""
    if value in (None, ""):
        return "", ""
    if isinstance(value, float) and not value.is_integer():
        return "", f"“{value}”不是电话号码"
    digits = normalize_phone(value)
    if not digits:
        return "", ""
    if not digits.isdigit():
        return "", f"“{text(value)}”不是电话号码"
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits, ""
    if len(digits) == 18 or len(digits) == 15:
        return "", f"“{text(value)}”像是身份证号，不是电话号码"
    return "", f"“{text(value)}”不是11位手机号或带区号的座机号"


def _chunks(seq, size=BATCH):
    seq = list(seq)
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def reserve_ids(model, count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``, taken inside the import's transaction.

    Inserting with known keys lets one ``executemany`` write 100,000 rows and still link them (households to
    their 包联) without reading the keys back. PostgreSQL hands them out from the table's sequence; SQLite's
    writer lock (the transaction is IMMEDIATE) makes max+1 safe.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        quoted = connection.ops.quote_name(table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")  # noqa: S608 - table name from our model
        start = cursor.fetchone()[0]
        try:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            start = max(start, row[0] if row else 0)
        except Exception:  # noqa: BLE001 - no sqlite_sequence table before the first AUTOINCREMENT insert
            pass
        return list(range(start + 1, start + 1 + count))


def insert_rows(model, fields: list[str], rows: list[tuple]) -> None:
    """INSERT ``rows`` (values in ``fields`` order, primary key included): COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    opts = model._meta
    columns = ", ".join(connection.ops.quote_name(opts.get_field(f).column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is several times faster than row inserts; psycopg 3 streams the rows as they come.
            copy_sql = f"COPY {connection.ops.quote_name(opts.db_table)} ({columns}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        for chunk in _chunks(rows, 10_000):
            cursor.executemany(sql, chunk)


class Importer:
    """Shared machinery: errors with sheet/row/column, places of the county cached once per file."""

    kind = ""
    subject = ""

    def __init__(self, user, county, campaign=None, as_of=None, sheets_headers=None):
        self.user = user
        self.county = county
        self.campaign = campaign
        self.as_of = as_of
        self.outcome = Outcome()
        self._headers: dict[str, dict[str, str]] = {}

    # -- errors ---------------------------------------------------------------------------------------------
    def use_sheet(self, sheet):
        self._headers[sheet.name] = sheet.headers
        self.sheet = sheet

    def error(self, row_no, key, message):
        column = self._headers.get(self.sheet.name, {}).get(key) or (header(key) if key else "")
        self.outcome.errors.append(RowError(self.sheet.name, row_no, column, message))

    # -- places ---------------------------------------------------------------------------------------------
    def load_places(self):
        county = self.county
        self.towns = {}
        for pk, name in scoped(self.user, Town.objects.filter(county=county)).values_list("pk", "name"):
            self.towns[clean_name(name)] = pk
        self.town_names = {pk: name for name, pk in self.towns.items()}
        self.villages_by_name: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.village_names = {}
        qs = scoped(self.user, Village.objects.filter(county=county)).values_list("pk", "name", "short_name", "town_id")
        for pk, name, short, town_id in qs:
            self.village_names[pk] = (short or name, town_id)
            for spelling in {clean_name(name), clean_name(short)}:
                self.villages_by_name[spelling].append((pk, town_id))
        self.grids = {}
        grid_qs = GridArea.objects.filter(village__county=county)
        if self.user is not None:
            grid_qs = grid_qs.filter(
                village_id__in=scoped(self.user, Village.objects.filter(county=county)).values("pk")
            )
        for pk, village_id, name in grid_qs.values_list("pk", "village_id", "name"):
            self.grids[(village_id, clean_name(name))] = pk
        self.new_grids: dict[tuple[int, str], int | None] = {}

    def town_of(self, row_no, values) -> tuple[int | None, bool]:
        """(town id or None, ok)."""
        name = clean_name(text(values.get("town")))
        if not name:
            return None, True
        pk = self.towns.get(name)
        if pk is None:
            for known, known_pk in self.towns.items():
                if known.startswith(name) or name.startswith(known):
                    pk = known_pk
                    break
        if pk is None:
            self.error(row_no, "town", f"{self.county.name}下没有“{name}”")
            return None, False
        return pk, True

    def village_of(self, row_no, values, town_id) -> int | None:
        name = clean_name(text(values.get("village")))
        if not name:
            self.error(row_no, "village", "不能为空")
            return None
        found = {}
        for spelling in (name, short_village_name(name)):
            for pk, v_town in self.villages_by_name.get(spelling, ()):
                found[pk] = v_town
        if town_id is not None:
            found = {pk: t for pk, t in found.items() if t == town_id}
        if not found:
            where = self.county.name + (self.town_names.get(town_id, "") if town_id else "")
            self.error(row_no, "village", f"{where}下没有“{name}”")
            return None
        if len(found) > 1:
            self.error(row_no, "village", f"{self.county.name}有多个“{name}”，请填写镇（街道）")
            return None
        return next(iter(found))

    def grid_of(self, values, village_id) -> tuple[int, str] | None:
        name = clean_name(text(values.get("grid")))
        if not name:
            return None
        key = (village_id, name[:60])
        if key not in self.grids:
            self.new_grids.setdefault(key, None)
        return key

    def create_grids(self):
        if not self.new_grids:
            return
        created = GridArea.objects.bulk_create(
            [GridArea(village_id=v, name=n) for (v, n) in self.new_grids], batch_size=BATCH
        )
        if any(g.pk is None for g in created):
            keys = list(self.new_grids)
            for pk, v, n in GridArea.objects.filter(village_id__in={k[0] for k in keys}).values_list(
                "pk", "village_id", "name"
            ):
                self.grids[(v, n)] = pk
        else:
            for grid in created:
                self.grids[(grid.village_id, grid.name)] = grid.pk

    def grid_note(self):
        if self.new_grids:
            names = [f"{self.village_names[v][0]}{n}" for v, n in list(self.new_grids)[:10]]
            more = "等" if len(self.new_grids) > 10 else ""
            self.outcome.notes.append(f"新建网格 {len(self.new_grids)} 个：{'、'.join(names)}{more}")

    def add_preview(self, action, row_no, values):
        if len(self.outcome.preview) < PREVIEW_ROWS:
            shown = {header(k): text(v) for k, v in values.items() if k in self.preview_keys}
            self.outcome.preview.append({"action": action, "sheet": self.sheet.name, "row": row_no, "values": shown})

    def count(self, action):
        setattr(self.outcome, action, getattr(self.outcome, action) + 1)

    preview_keys = ()

    def check_row(self, row_no, values):
        raise NotImplementedError

    def finish_check(self):
        """Resolve what needs all rows (households by id in bulk, counts); called after the last row."""

    def write(self):
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------------
class _Members:
    """Party members of the county in scope, by id, phone and (organization, name); new ones made once."""

    def __init__(self, importer):
        self.importer = importer
        county = importer.county
        self.orgs = {
            clean_name(name): pk
            for pk, name in PartyOrganization.objects.filter(county=county).values_list("pk", "name")
        }
        self.new_orgs: dict[str, dict] = {}
        self.by_id, self.by_phone, self.by_org_name = {}, {}, {}
        qs = scoped(importer.user, PartyMember.objects.filter(county=county)).values_list(
            "pk", "name", "phone", "organization_id", "is_active"
        )
        for pk, name, phone, org_id, active in qs:
            self.by_id[pk] = [name, phone, org_id, active]
            if phone:
                self.by_phone.setdefault(phone, pk)
            self.by_org_name.setdefault((org_id, clean_name(name)), pk)
        # file-local members: key → ("new", index) or ("old", pk)
        self.new: list[list] = []  # [name, phone, org_key, active]
        self.new_by_phone: dict[str, int] = {}
        self.new_by_org_name: dict[tuple, int] = {}
        self.changes: dict[int, list] = {}

    def org_key(self, name, town_id, village_id):
        """An existing organization id, or ("new", name) registered for creation."""
        name = clean_name(name)[:100]
        if name in self.orgs:
            return self.orgs[name]
        if name not in self.new_orgs:
            kind = PartyOrganization.Kind.BRANCH
            if name.endswith("党委"):
                kind = PartyOrganization.Kind.COMMITTEE
            elif name.endswith("党总支"):
                kind = PartyOrganization.Kind.GENERAL_BRANCH
            imp = self.importer
            village_name = imp.village_names.get(village_id, ("", None))[0] if village_id else ""
            town_name = imp.town_names.get(town_id, "") if town_id else ""
            self.new_orgs[name] = {
                "kind": kind,
                "village_id": village_id if village_name and name.startswith(village_name) else None,
                "town_id": town_id
                if (village_name and name.startswith(village_name)) or (town_name and name.startswith(town_name))
                else None,
            }
        return ("new", name)

    def resolve(self, row_no, values, town_id, village_id, default_active=True, update=True):
        """A member reference ("old", pk) or ("new", index), or None after reporting an error."""
        imp = self.importer
        name = clean_name(text(values.get("member_name")))[:30]
        try:
            member_id = parse_id(values.get("member_id"))
        except Unparsable as exc:
            imp.error(row_no, "member_id", exc.message)
            return None
        raw_phone = values.get("member_phone")
        phone, msg = ("", "") if _is_masked(raw_phone) else _phone(raw_phone)
        if msg:
            imp.error(row_no, "member_phone", msg)
            return None
        org_name = clean_name(text(values.get("organization")))
        active = default_active
        if "is_active" in values and values.get("is_active") not in (None, ""):
            try:
                active = parse_bool(values.get("is_active"))
            except Unparsable as exc:
                imp.error(row_no, "is_active", exc.message)
                return None
        if not name:
            imp.error(row_no, "member_name", "不能为空")
            return None
        if member_id is not None:
            current = self.by_id.get(member_id)
            if current is None:
                imp.error(row_no, "member_id", f"党员编号 {member_id} 不存在或不在您的管辖范围内")
                return None
            if _is_masked(raw_phone):
                if mask_phone(current[1]) != text(raw_phone):
                    imp.error(row_no, "member_phone", "电话号码被隐藏（带*），只能原样保留或填写完整号码")
                    return None
                phone = current[1]
            pk = member_id
        else:
            if _is_masked(raw_phone):
                imp.error(row_no, "member_phone", "电话号码被隐藏（带*），请填写完整号码")
                return None
            # By phone; else by name within the organization, but never over a different phone number.
            pk = self.by_phone.get(phone) if phone else None
            if pk is None and phone and phone in self.new_by_phone:
                return ("new", self.new_by_phone[phone])
            if pk is None and org_name:
                org = self.org_key(org_name, town_id, village_id)
                if isinstance(org, int):
                    pk = self.by_org_name.get((org, name))
                    if pk is not None and phone and self.by_id[pk][1]:
                        pk = None
                if pk is None:
                    index = self.new_by_org_name.get((org, name))
                    if index is not None and not (phone and self.new[index][1]):
                        if phone:
                            self.new[index][1] = phone
                            self.new_by_phone[phone] = index
                        return ("new", index)
            if pk is None:
                if not org_name:
                    imp.error(row_no, "organization", "新党员须填写所在党组织")
                    return None
                org = self.org_key(org_name, town_id, village_id)
                index = len(self.new)
                self.new.append([name, phone, org, active])
                if phone:
                    self.new_by_phone[phone] = index
                self.new_by_org_name[(org, name)] = index
                return ("new", index)
        if update:
            current = self.changes.get(pk) or list(self.by_id[pk])
            wanted = list(current)
            wanted[0] = name
            if phone:
                wanted[1] = phone
            if org_name:
                wanted[2] = self.org_key(org_name, town_id, village_id)
            wanted[3] = active if "is_active" in values and values.get("is_active") not in (None, "") else current[3]
            if wanted != self.by_id[pk]:
                self.changes[pk] = wanted
        return ("old", pk)

    def is_changed(self, ref) -> bool:
        return ref is not None and ref[0] == "old" and ref[1] in self.changes

    def write(self, county_id):
        if self.new_orgs:
            created = PartyOrganization.objects.bulk_create(
                [PartyOrganization(name=n, county_id=county_id, **spec) for n, spec in self.new_orgs.items()]
            )
            for org in created:
                self.orgs[org.name] = org.pk
            if any(o.pk is None for o in created):
                self.orgs.update(
                    {n: pk for pk, n in PartyOrganization.objects.filter(county_id=county_id).values_list("pk", "name")}
                )
            self.importer.outcome.notes.append(
                f"新建党组织 {len(self.new_orgs)} 个：{'、'.join(list(self.new_orgs)[:10])}"
            )

        def org_id(ref):
            return ref if isinstance(ref, int) else self.orgs[ref[1]]

        now = timezone.now()
        objs = [
            PartyMember(name=n, phone=p, organization_id=org_id(o), county_id=county_id, is_active=a)
            for n, p, o, a in self.new
        ]
        self.new_pks = []
        for chunk in _chunks(objs):
            PartyMember.objects.bulk_create(chunk)
            self.new_pks.extend(m.pk for m in chunk)
        updates = []
        for pk, (n, p, o, a) in self.changes.items():
            updates.append(PartyMember(pk=pk, name=n, phone=p, organization_id=org_id(o), is_active=a, updated_at=now))
        if updates:
            PartyMember.objects.bulk_update(
                updates, ["name", "phone", "organization", "is_active", "updated_at"], batch_size=BATCH
            )
        if self.new:
            self.importer.outcome.notes.append(f"新建党员 {len(self.new)} 名")
        if updates:
            self.importer.outcome.notes.append(f"更新党员信息 {len(updates)} 名")

    def pk_of(self, ref) -> int:
        return ref[1] if ref[0] == "old" else self.new_pks[ref[1]]


# ---------------------------------------------------------------------------------------------------------
_HOUSE_FIELDS = ("head_name", "phone", "address", "size", "note", "village_id", "grid_id", "elderly_alone")


class HouseholdImporter(Importer):
    """住户花名册: households matched by 户编号, else village + 户主姓名 + phone (or address)."""

    kind = "households"
    subject = "住户花名册"
    preview_keys = ("town", "village", "grid", "head_name", "address", "size", "household_id")
    flag_keys = ("elderly_alone", "left_behind", "student_family", "no_smartphone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.load_places()
        self.records: list[dict] = []
        self.keys_seen: dict[tuple, int] = {}

    def parse_household(self, row_no, values):
        ok = True
        town_id, town_ok = self.town_of(row_no, values)
        ok &= town_ok
        village_id = self.village_of(row_no, values, town_id) if town_ok else None
        ok &= village_id is not None
        head = clean_name(text(values.get("head_name")))[:30]
        if not head:
            self.error(row_no, "head_name", "不能为空")
            ok = False
        raw_phone = values.get("head_phone")
        masked = _is_masked(raw_phone)
        phone, msg = ("", "") if masked else _phone(raw_phone)
        if msg:
            self.error(row_no, "head_phone", msg)
            ok = False
        size = hid = None
        try:
            size = parse_int(values.get("size"), 1, 50)
        except Unparsable as exc:
            self.error(row_no, "size", exc.message)
            ok = False
        try:
            hid = parse_id(values.get("household_id"))
        except Unparsable as exc:
            self.error(row_no, "household_id", exc.message)
            ok = False
        if masked and hid is None:
            self.error(row_no, "head_phone", "电话号码被隐藏（带*），请填写完整号码")
            ok = False
        flags = {}
        for key in self.flag_keys:
            if key in values and values[key] not in (None, ""):
                try:
                    flags[key] = parse_bool(values[key])
                except Unparsable as exc:
                    flags[key] = None
                    self.error(row_no, key, exc.message)
                    ok = False
        note = text(values.get("note"))[:200]
        if "独居" in note and "elderly_alone" not in flags:
            flags["elderly_alone"] = True
        if not ok:
            return None
        grid = self.grid_of(values, village_id)
        address = text(values.get("address"))[:200]
        rec = {
            "row": row_no,
            "sheet": self.sheet.name,
            "id": hid,
            "head_name": head,
            "phone": phone,
            "masked_phone": text(raw_phone) if masked else None,
            "address": address,
            "size": size,
            "note": note,
            "village_id": village_id,
            "grid": grid,
            "flags": flags,
        }
        key = (village_id, head, "p", phone) if phone else (village_id, head, "a", address)
        if hid is None and not masked:
            if key in self.keys_seen:
                self.error(row_no, "head_name", f"与本表第{self.keys_seen[key]}行是同一户（户主姓名和电话/住址相同）")
                return None
            self.keys_seen[key] = row_no
        rec["key"] = key
        return rec

    def check_row(self, row_no, values):
        rec = self.parse_household(row_no, values)
        if rec is not None:
            rec["values"] = values if len(self.records) < PREVIEW_ROWS else None
            self.records.append(rec)

    def load_households(self):
        """Existing households of the file's villages and of every 户编号 in it, in scope, a few queries."""
        village_ids = {r["village_id"] for r in self.records}
        ids = {r["id"] for r in self.records if r["id"] is not None}
        self.existing: dict[int, tuple] = {}
        self.by_key: dict[tuple, int] = {}
        self.claimed: dict[int, int] = {}
        cols = ("pk", "head_name", "phone", "address", "size", "note", "village_id", "grid_id", *self.flag_keys)
        base = scoped(self.user, Household.objects.filter(county=self.county))
        chunks = [Q(village_id__in=c) for c in _chunks(sorted(village_ids), 500)]
        chunks += [Q(pk__in=c) for c in _chunks(sorted(ids), 500)]
        for q in chunks:
            for row in base.filter(q).values_list(*cols).iterator(chunk_size=5000):
                if row[0] in self.existing:
                    continue
                self.existing[row[0]] = row
                pk, head, phone, address, _size, _note, village_id = row[:7]
                if phone:
                    self.by_key.setdefault((village_id, clean_name(head), "p", phone), pk)
                # By address as well: a row without a phone finds a household that has one, and a row with a
                # phone finds the same household recorded earlier without one.
                self.by_key.setdefault((village_id, clean_name(head), "a", address), pk)

    def resolve_household(self, rec) -> bool:
        """Sets rec["pk"] (None when new) and rec["changed"]; False after an error."""
        if rec["id"] is not None:
            row = self.existing.get(rec["id"])
            if row is None:
                self.sheet_name_error(rec, "household_id", f"户编号 {rec['id']} 不存在或不在您的管辖范围内")
                return False
            if rec["masked_phone"] is not None:
                if mask_phone(row[2]) != rec["masked_phone"]:
                    self.sheet_name_error(rec, "head_phone", "电话号码被隐藏（带*），只能原样保留或填写完整号码")
                    return False
                rec["phone"] = row[2]
            rec["pk"] = rec["id"]
        else:
            rec["pk"] = self.by_key.get(rec["key"])
            if rec["pk"] is None and rec["phone"] and rec["address"]:
                pk = self.by_key.get((rec["village_id"], rec["head_name"], "a", rec["address"]))
                if pk is not None and not self.existing[pk][2]:
                    rec["pk"] = pk
        if rec["pk"] is not None:
            first = self.claimed.setdefault(rec["pk"], (rec["sheet"], rec["row"]))
            if first != (rec["sheet"], rec["row"]):
                where = f"第{first[1]}行" if first[0] == rec["sheet"] else f"“{first[0]}”第{first[1]}行"
                self.sheet_name_error(rec, "head_name", f"与本表{where}是同一户")
                return False
        if rec["pk"] is None:
            rec["changed"] = True
            return True
        row = self.existing[rec["pk"]]
        current = dict(
            zip(
                ("pk", "head_name", "phone", "address", "size", "note", "village_id", "grid_id", *self.flag_keys),
                row,
                strict=True,
            )
        )
        grid_id = self.grids.get(rec["grid"]) if rec["grid"] else current["grid_id"]
        if rec["grid"] and grid_id is None:
            grid_id = "new"
        wanted = {
            "head_name": rec["head_name"],
            "phone": rec["phone"],
            "address": rec["address"] or current["address"],
            "size": rec["size"] if rec["size"] is not None else current["size"],
            "note": rec["note"],
            "village_id": rec["village_id"],
            "grid_id": grid_id,
        }
        for key in self.flag_keys:
            wanted[key] = rec["flags"].get(key, current[key])
        rec["changed"] = any(wanted[k] != current[k] for k in wanted)
        return True

    def sheet_name_error(self, rec, key, message):
        column = self._headers.get(rec["sheet"], {}).get(key) or header(key)
        self.outcome.errors.append(RowError(rec["sheet"], rec["row"], column, message))

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
            action = "new" if rec["pk"] is None else ("updated" if rec["changed"] else "unchanged")
            rec["action"] = action
            self.count(action)
            if rec.get("values") is not None and len(self.outcome.preview) < PREVIEW_ROWS:
                self.outcome.preview.append(
                    {
                        "action": action,
                        "sheet": rec["sheet"],
                        "row": rec["row"],
                        "values": {header(k): text(v) for k, v in rec["values"].items() if k in self.preview_keys},
                    }
                )
            rec.pop("values", None)

    def household_obj(self, rec, pk=None) -> Household:
        town_id = self.village_names[rec["village_id"]][1]
        grid_id = self.grids.get(rec["grid"]) if rec["grid"] else None
        obj = Household(
            pk=pk,
            head_name=rec["head_name"],
            phone=rec["phone"],
            address=rec["address"],
            size=rec["size"] or 1,
            note=rec["note"],
            village_id=rec["village_id"],
            town_id=town_id,
            county_id=self.county.pk,
            grid_id=grid_id,
            **{k: rec["flags"].get(k, False) for k in self.flag_keys},
        )
        return obj

    def write_households(self):
        self.create_grids()
        now = timezone.now()
        new = [r for r in self.records if r["pk"] is None]
        stamp = connection.ops.adapt_datetimefield_value(now)
        fields = ["id", "head_name", "phone", "address", "size", "note", "county", "town", "village", "grid",
                  *self.flag_keys, "created_at", "updated_at"]  # fmt: skip
        rows = []
        for rec, pk in zip(new, reserve_ids(Household, len(new)), strict=True):
            rec["pk"] = pk
            flags = rec["flags"]
            rows.append(
                (
                    pk, rec["head_name"], rec["phone"], rec["address"], rec["size"] or 1, rec["note"],
                    self.county.pk, self.village_names[rec["village_id"]][1], rec["village_id"],
                    self.grids.get(rec["grid"]) if rec["grid"] else None,
                    *(bool(flags.get(k, False)) for k in self.flag_keys), stamp, stamp,
                )
            )  # fmt: skip
        insert_rows(Household, fields, rows)
        del rows
        changed = [r for r in self.records if r["action"] == "updated"]
        cols = ("pk", "head_name", "phone", "address", "size", "note", "village_id", "grid_id", *self.flag_keys)
        for chunk in _chunks(changed):
            objs = []
            for rec in chunk:
                current = dict(zip(cols, self.existing[rec["pk"]], strict=True))
                obj = self.household_obj(rec, pk=rec["pk"])
                if not rec["address"]:
                    obj.address = current["address"]
                if rec["size"] is None:
                    obj.size = current["size"]
                if not rec["grid"]:
                    obj.grid_id = current["grid_id"]
                for key in self.flag_keys:
                    setattr(obj, key, rec["flags"].get(key, current[key]))
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
                    "updated_at",
                ],
            )
        self.outcome.village_ids |= {r["village_id"] for r in self.records if r["action"] != "unchanged"}

    def write(self):
        self.write_households()


class ResponsibilityImporter(HouseholdImporter):
    """责任分工表: households as above, their party member (by 党员编号, phone, or name in organization), 包联."""

    kind = "responsibility"
    subject = "党员包联入户责任分工表"
    preview_keys = ("town", "village", "grid", "member_name", "organization", "head_name", "address", "size")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.members = _Members(self)

    def check_row(self, row_no, values):
        rec = self.parse_household(row_no, values)
        town_id = None
        if rec is not None:
            town_id = self.village_names[rec["village_id"]][1]
        member = self.members.resolve(row_no, values, town_id, rec["village_id"] if rec else None)
        if rec is None or member is None:
            return
        rec["member"] = member
        rec["values"] = values if len(self.records) < PREVIEW_ROWS else None
        self.records.append(rec)

    def finish_check(self):
        self.load_households()
        good = [rec for rec in self.records if self.resolve_household(rec)]
        self.records = good
        known = {r["pk"] for r in good if r["pk"] is not None}
        self.assigned: dict[int, tuple[int, int]] = {}
        # By the households' villages (a few queries), keeping only this file's households.
        villages = sorted({self.existing[pk][6] for pk in known})
        for chunk in _chunks(villages, 500):
            for pk, household_id, member_id in (
                Assignment.objects.filter(campaign=self.campaign, household__village_id__in=chunk)
                .values_list("pk", "household_id", "member_id")
                .iterator(chunk_size=5000)
            ):
                if household_id in known:
                    self.assigned[household_id] = (pk, member_id)
        for rec in good:
            ref = rec["member"]
            current = self.assigned.get(rec["pk"]) if rec["pk"] is not None else None
            if current is None or ref[0] == "new" or current[1] != ref[1] or self.members.is_changed(ref):
                rec["changed"] = True
        self.tally()
        self.grid_note()

    def write(self):
        self.members.write(self.county.pk)
        self.write_households()
        now = timezone.now()
        stamp = connection.ops.adapt_datetimefield_value(now)
        user = self._user_or_none()
        by_id = user.pk if user is not None else None
        new, moved = [], []
        for rec in self.records:
            member_id = self.members.pk_of(rec["member"])
            current = self.assigned.get(rec["pk"])
            if current is None:
                new.append((self.campaign.pk, rec["pk"], member_id, by_id, stamp, stamp))
            elif current[1] != member_id:
                moved.append(Assignment(pk=current[0], member_id=member_id, updated_at=now))
                self.outcome.village_ids.add(rec["village_id"])
        rows = [(pk, *row) for row, pk in zip(new, reserve_ids(Assignment, len(new)), strict=True)]
        insert_rows(
            Assignment, ["id", "campaign", "household", "member", "assigned_by", "created_at", "updated_at"], rows
        )
        if moved:
            Assignment.objects.bulk_update(moved, ["member", "updated_at"], batch_size=BATCH)
        if new or moved:
            self.outcome.village_ids |= {r["village_id"] for r in self.records if r["action"] != "unchanged"}

    def _user_or_none(self):
        return self.user if self.user is not None and self.user.is_authenticated else None


# ---------------------------------------------------------------------------------------------------------
class MemberImporter(Importer):
    """党员名册: members matched by 党员编号, phone, or name within their organization."""

    kind = "members"
    subject = "党员名册"
    preview_keys = ("member_name", "organization", "town", "village", "is_active", "member_id")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.load_places()
        self.members = _Members(self)
        self.seen: dict[tuple, int] = {}
        self.refs = []

    def check_row(self, row_no, values):
        town_id, ok = self.town_of(row_no, values)
        village_id = None
        if ok and clean_name(text(values.get("village"))):
            village_id = self.village_of(row_no, values, town_id)
            if village_id is None:
                return
            town_id = self.village_names[village_id][1]
        if not ok:
            return
        before = (len(self.members.new), set(self.members.changes))
        ref = self.members.resolve(row_no, values, town_id, village_id)
        if ref is None:
            return
        if ref in self.seen:
            self.error(row_no, "member_name", f"与本表第{self.seen[ref]}行是同一名党员")
            return
        self.seen[ref] = row_no
        if ref[0] == "new":
            action = "new"
        elif ref[1] in self.members.changes and ref[1] not in before[1]:
            action = "updated"
        else:
            action = "unchanged"
        self.count(action)
        self.add_preview(action, row_no, values)

    def write(self):
        self.members.write(self.county.pk)


# ---------------------------------------------------------------------------------------------------------
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
            try:
                value = parse_int(values.get(key), 0, 100_000_000)
            except Unparsable as exc:
                value = None
                self.error(row_no, key, exc.message)
                ok = False
            else:
                if value is None and required:
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
            if len(self.outcome.preview) < PREVIEW_ROWS:
                shown = {header(k): text(v) for k, v in rec["values"].items() if k in self.preview_keys}
                shown["数据日期"] = rec["key"][2].isoformat()
                self.outcome.preview.append(
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
        self.outcome.county_ids |= {r["key"][0] for r in touched}
        self.outcome.dates |= {r["key"][2] for r in touched}

    source = ""


IMPORTERS = {
    "responsibility": ResponsibilityImporter,
    "households": HouseholdImporter,
    "members": MemberImporter,
    "registrations": RegistrationImporter,
}


def pick_campaign(title: str = "", county=None, name: str | None = None):
    """The campaign rule for a sheet (``outreach.campaigns.rules.import_campaign``); raises ``CampaignRefused``."""
    return import_campaign(title, county, name)
