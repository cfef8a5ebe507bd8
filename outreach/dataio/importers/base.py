"""What every kind of import shares: errors named by sheet, row and column, the county's places cached once
per file (towns, villages, grids in the user's scope), grids created in bulk, the preview, and the one
message saying a file belongs to another county."""

from collections import defaultdict

from outreach.dataio.cells import text
from outreach.dataio.columns import clean, header
from outreach.dataio.permissions import scoped
from outreach.dataio.results import ImportResult, RowError
from outreach.dataio.writers import BATCH
from outreach.lib.names import clean_name, short_village_name
from outreach.places.models import GridArea, Town, Village

PREVIEW_ROWS = 20
CLEAN_MEMO = 1000


class Importer:
    """Shared machinery: errors with sheet/row/column, places of the county cached once per file."""

    kind = ""
    subject = ""

    def __init__(self, user, county, campaign=None, as_of=None, result=None):
        self.user = user
        self.county = county
        self.campaign = campaign
        self.as_of = as_of
        self.result = result if result is not None else ImportResult()
        self._headers: dict[str, dict[str, str]] = {}
        # Towns named in the rows that lie in another county: {county name: {town names}}, and their rows.
        self.foreign_towns: dict[str, set[str]] = defaultdict(set)
        self.foreign_rows = 0
        self._other_towns: dict[str, str] | None = None
        self._cleaned: dict[str, dict[tuple, tuple]] = {}  # column → {(type, cell): (value, message)}

    # -- errors ---------------------------------------------------------------------------------------------
    def use_sheet(self, sheet):
        self._headers[sheet.name] = sheet.headers
        self.sheet = sheet

    def clean(self, row_no, values, key):
        """(value, ok) of the row's cell in column ``key``, cleaned as ``columns`` declares; errors recorded.

        Every cleaner answers from the cell alone, and most columns hold a few distinct cells over 100,000 rows
        (家庭人口, 是/否, empty 户编号): up to ``CLEAN_MEMO`` answers of each column are remembered. The cell's type
        is part of the key (``True == 1``, yet 1 is a whole number and ``True`` is not); a remembered error is
        still recorded for its row.
        """
        cell = values.get(key)
        memo = self._cleaned.get(key)
        if memo is None:
            memo = self._cleaned[key] = {}
        found = memo.get((cell.__class__, cell))
        if found is None:
            found = clean(key, cell)
            if len(memo) < CLEAN_MEMO:
                memo[(cell.__class__, cell)] = found
        value, message = found
        if message:
            self.error(row_no, key, message)
        return value, not message

    def error(self, row_no, key, message):
        column = self._headers.get(self.sheet.name, {}).get(key) or (header(key) if key else "")
        self.result.errors.append(RowError(self.sheet.name, row_no, column, message))

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
        self._grid_keys: dict[tuple[int, str], tuple[int, str]] = {}
        self._grid_cells: dict[tuple, tuple[int, str]] = {}  # (village id, the cell as read) → its key

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
            owner = self.county_of_other_town(name)
            if owner:
                # Said once for the whole file (``origin_error``), not once a row.
                self.foreign_towns[owner].add(name)
                self.foreign_rows += 1
            else:
                self.error(row_no, "town", f"{self.county.name}下没有“{name}”")
            return None, False
        return pk, True

    def county_of_other_town(self, name: str) -> str:
        """The county whose town is called ``name`` when that is one county other than this file's, else "".

        Town names are public (the official divisions); naming the county they belong to tells the clerk why
        the rows cannot be read, and reveals nothing of the data kept there.
        """
        if self._other_towns is None:
            by_name: dict[str, set[str]] = defaultdict(set)
            for town, county in Town.objects.exclude(county=self.county).values_list("name", "county__name"):
                by_name[clean_name(town)].add(county)
            self._other_towns = {n: next(iter(c)) for n, c in by_name.items() if len(c) == 1}
        owner = self._other_towns.get(name)
        if owner is None:
            hits = {c for known, c in self._other_towns.items() if known.startswith(name) or name.startswith(known)}
            owner = next(iter(hits)) if len(hits) == 1 else ""
        return owner

    def origin_error(self, title_county=None, allowed=()) -> RowError | None:
        """One message when the file belongs to another county: its title names one, or its towns lie there.

        ``title_county`` is a county the titles name other than this file's; ``allowed`` the names of the counties
        the user may import into. The title alone decides nothing when every row reads well here.
        """
        counties = dict.fromkeys(sorted(self.foreign_towns, key=lambda c: -len(self.foreign_towns[c])))
        place_keys = {self._headers.get(self.sheet.name, {}).get(k) or header(k) for k in ("town", "village")}
        if title_county is not None and (counties or any(e.column in place_keys for e in self.result.errors)):
            counties = {title_county.name: None, **counties}
        if not counties:
            return None
        name = next(iter(counties))
        evidence = [w for w, hit in (("标题", title_county is not None and title_county.name == name),
                                     ("乡镇名", name in self.foreign_towns)) if hit]  # fmt: skip
        if name in allowed:
            message = (
                f"这张表是{name}的（{'、'.join(evidence)}），不是{self.county.name}的：请在“县（市、区）”中选择{name}"
            )
        else:
            where = "、".join(allowed) if 0 < len(allowed) <= 3 else self.county.name
            message = f"这张表是{name}的（{'、'.join(evidence)}），您只能导入{where}的数据"
        if self.foreign_rows:
            towns = "、".join(sorted(self.foreign_towns.get(name, ()))) or "、".join(
                sorted(t for ts in self.foreign_towns.values() for t in ts)
            )
            message += f"（共{self.foreign_rows}行的乡镇不在{self.county.name}：{towns}）"
        column = self._headers.get(self.sheet.name, {}).get("town") or header("town")
        return RowError("", 0, column, message)

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
        cell = (village_id, values.get("grid"))
        if cell in self._grid_cells:
            return self._grid_cells[cell]
        name = clean_name(text(cell[1]))
        if not name:
            return None
        key = (village_id, name[:60])
        if key not in self.grids:
            self.new_grids.setdefault(key, None)
        # One key object per grid, shared by its rows (a file names a few hundred grids over 100,000 rows).
        key = self._grid_cells[cell] = self._grid_keys.setdefault(key, key)
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
            self.result.notes.append(f"新建网格 {len(self.new_grids)} 个：{'、'.join(names)}{more}")

    def add_preview(self, action, row_no, values):
        if len(self.result.preview) < PREVIEW_ROWS:
            shown = {header(k): text(v) for k, v in values.items() if k in self.preview_keys}
            self.result.preview.append({"action": action, "sheet": self.sheet.name, "row": row_no, "values": shown})

    def count(self, action):
        setattr(self.result, action, getattr(self.result, action) + 1)

    preview_keys = ()

    def check_row(self, row_no, values):
        raise NotImplementedError

    def finish_check(self):
        """Resolve what needs all rows (households by id in bulk, counts); called after the last row."""

    def write(self):
        raise NotImplementedError
