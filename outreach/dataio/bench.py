"""Measuring imports and exports at a county's scale (for the benchmarks app and ``manage.py dataio_bench``).

``build_responsibility_xlsx`` writes an N-row 责任分工表 on the real villages of a county (one sheet per town,
title and 填报单位 rows, each member named once over their ten households, phones in clerks' spellings).
``time_import`` and ``time_export`` run the service code the admin and the commands run and return plain
dicts: rows, seconds, rows per second and the process's peak memory in MB. Peak memory is the process's own
high-water mark (``VmHWM``): run each measurement in a fresh process for a clean figure.

The floors say how fast the machine could possibly go, measured in the same run: ``time_read_floor`` reads
every cell of the file with python-calamine and nothing else; ``time_copy_floor`` sends N household rows into
a table shaped like ``people_household`` (its indexes too, no foreign keys) with one ``COPY`` on PostgreSQL
(``executemany`` on SQLite) and rolls back; ``time_write_floor`` (not in the benchmark's floor) sends the same
rows into the real tables, with their 包联 and foreign-key checks, and rolls back; ``time_export_floor`` runs the export's own query through one
server-side cursor straight into xlsxwriter (``constant_memory``), no cell logic at all.
"""

import random
import resource
import sys
import time
from pathlib import Path

from outreach.campaigns.models import Campaign
from outreach.lib import xlsx
from outreach.places.models import County, Village

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉梅海东志庆文斌宏"
HEADERS = ["序号", "镇（街道）", "村（社区）", "网格", "党员姓名", "党员联系电话", "所在党组织", "户主姓名",
           "户主联系电话", "家庭住址", "家庭人口", "备注"]  # fmt: skip


def peak_mb() -> float:
    """The process's peak resident memory in MB.

    On Linux ``ru_maxrss`` would not do: it survives ``exec``, so a step started by the benchmark reports at least
    the benchmark process's own size at the fork (some 300 MB after a full run). ``VmHWM`` is the high-water mark
    of this program's memory alone.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux, bytes on macOS
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _name(rng):
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng, n):
    digits = f"1{rng.choice('3578')}{n:09d}"[:11]
    style = n % 5
    if style == 0:
        return int(digits)
    if style == 1:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if style == 2:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style == 3:
        return digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return digits


def build_responsibility_xlsx(path, rows: int, county_code: str = "140825000000", seed: int = 1, per_member: int = 10):
    """Write an N-row 责任分工表 of the county's real villages to ``path``; returns the path."""
    rng = random.Random(seed)
    county = County.objects.get(code=county_code)
    villages = list(Village.objects.filter(county=county, is_placeholder=False).select_related("town").order_by("code"))
    by_town: dict[str, list] = {}
    for village in villages:
        by_town.setdefault(village.town.name, []).append(village)
    towns = list(by_town)
    per_town = -(-rows // len(towns))
    written = 0
    phone_seq = 0
    columns = xlsx.columns(*HEADERS)
    with xlsx.Workbook(Path(path)) as book:
        for town in towns:
            if written >= rows:
                break
            # The clerks' layout, not ours: plain title, 填报单位 row and header, then the rows.
            ws = book.sheet(town, columns, header=False)
            ws.write([f"{county.name}“十万党员进百万家”党员包联入户责任分工表（{town}）"])
            ws.write([f"填报单位：{town}党委（盖章）", *[None] * 7, "填报日期：2021年8月10日"])
            ws.write(HEADERS)
            town_rows = min(per_town, rows - written)
            town_villages = by_town[town]
            for i in range(town_rows):
                village = town_villages[(i // (per_member * 4)) % len(town_villages)]
                first_of_member = i % per_member == 0
                phone_seq += 1
                values = [i + 1, town, village.short_name, f"第{(i // (per_member * 2)) % 3 + 1}网格"]
                if first_of_member:
                    values += [_name(rng), _phone(rng, 500_000_000 + phone_seq), f"{village.short_name}党支部"]
                else:
                    values += [None, None, None]
                values += [
                    _name(rng) + ("  " if i % 17 == 0 else ""),
                    _phone(rng, phone_seq),
                    f"{village.short_name}{i % 12 + 1}组{i}号",
                    rng.choice((1, 2, 3, 3, 4, 5)),
                    "独居老人" if i % 23 == 0 else None,
                ]
                ws.write(values)
            written += town_rows
            ws.write(["合计", *[None] * 6, f"{town_rows}户"])
            ws.write([])
            ws.write(["填表人："])
    return Path(path)


def ensure_campaign():
    from datetime import date

    campaign, _ = Campaign.objects.get_or_create(
        name="十万党员进百万家", defaults={"start_date": date(2021, 7, 1), "end_date": date(2021, 12, 31)}
    )
    return campaign


def time_import(path, kind: str = "responsibility", county: str | None = None, user=None, dry_run=False) -> dict:
    from outreach.dataio.services import import_file

    ensure_campaign()
    cpu = cpu_seconds()
    start = time.perf_counter()
    report = import_file(kind, Path(path), user=user, county=county, dry_run=dry_run)
    seconds = time.perf_counter() - start
    return {
        "kind": kind,
        "rows": report.rows,
        "new": report.new,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "errors": len(report.errors),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds() - cpu, 2),
        "rows_per_s": round(report.rows / seconds) if seconds else None,
        "peak_mb": peak_mb(),
    }


def time_export(path, kind: str = "responsibility", county: str | None = None, user=None) -> dict:
    from outreach.dataio.exporters import export_file
    from outreach.dataio.services import find_county

    county_obj = find_county(user, county) if county else None
    # The clerk picks the campaign on the export form: the benchmark's drive (dated 2021) is no default today.
    campaign = ensure_campaign() if kind == "responsibility" else None
    cpu = cpu_seconds()
    start = time.perf_counter()
    rows = export_file(kind, Path(path), user=user, county=county_obj, campaign=campaign)
    seconds = time.perf_counter() - start
    return {
        "kind": kind,
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds() - cpu, 2),
        "rows_per_s": round(rows / seconds) if seconds else None,
        "peak_mb": peak_mb(),
    }


def _timed(work) -> dict:
    cpu = cpu_seconds()
    start = time.perf_counter()
    rows = work()
    seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds() - cpu, 2),
        "peak_mb": peak_mb(),
    }


def time_read_floor(path) -> dict:
    """Every row of every sheet of ``path`` read with python-calamine into Python lists, nothing else."""
    from python_calamine import CalamineWorkbook

    def work():
        book = CalamineWorkbook.from_path(str(path))
        rows = 0
        for name in book.sheet_names:
            for _row in book.get_sheet_by_name(name).iter_rows():
                rows += 1
        return rows

    return _timed(work)


def time_copy_floor(rows: int, county: str = "140825000000") -> dict:
    """``rows`` household rows of ``county`` sent in one COPY (PostgreSQL) or executemany (SQLite) into a table
    shaped like the households table; the rows are made before the clock starts and the table is rolled back."""
    from django.db import connection, transaction
    from django.utils import timezone

    from outreach.dataio.importers.households import NEW_HOUSEHOLD_FIELDS
    from outreach.people.models import Household

    village = Village.objects.filter(county__code=county, is_placeholder=False).order_by("code").first()
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    today = timezone.localdate()
    fields = NEW_HOUSEHOLD_FIELDS  # what the import's own COPY names, so a new NOT NULL column reaches both

    def household(n):
        return {
            "id": n + 1, "head_name": f"王{n % 997}", "phone": f"139{n:08d}", "address": f"{village.short_name}{n % 12 + 1}组{n}号",
            "size": n % 5 + 1, "note": "", "county": village.county_id, "town": village.town_id, "village": village.pk,
            "grid": None, "elderly_alone": False, "left_behind": False, "student_family": False, "no_smartphone": False,
            "roster_start": today, "roster_end": None, "end_reason": "", "created_at": stamp, "updated_at": stamp,
        }  # fmt: skip

    data = [tuple(row[f] for f in fields) for row in map(household, range(rows))]
    opts = Household._meta
    columns = ", ".join(connection.ops.quote_name(opts.get_field(f).column) for f in fields)
    table = connection.ops.quote_name(opts.db_table)

    def work():
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"CREATE TEMP TABLE floor_household (LIKE {table} INCLUDING ALL) ON COMMIT DROP")
                with cursor.cursor.copy(f"COPY floor_household ({columns}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
            else:
                cursor.execute(f"CREATE TEMP TABLE floor_household AS SELECT * FROM {table} WHERE 0")  # noqa: S608
                marks = ", ".join(["%s"] * len(fields))
                cursor.executemany(f"INSERT INTO floor_household ({columns}) VALUES ({marks})", data)  # noqa: S608
            transaction.set_rollback(True)
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS floor_household")
        return len(data)

    return _timed(work)


def time_write_floor(rows: int, county: str = "140825000000") -> dict:
    """What the floor's COPY leaves out, measured (issue #13): the same ``rows`` households sent by the same
    ``COPY`` into the real households table (its rows, indexes, foreign keys and write-ahead log) with one 包联
    each into the real 包联 table, the deferred foreign-key checks run (``SET CONSTRAINTS ALL IMMEDIATE``),
    then rolled back. Not part of the benchmark's floor: it shows how much of an import's time no code of ours
    can take away. Returns the seconds of each part and the WAL written (PostgreSQL)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from outreach.campaigns.models import Assignment
    from outreach.dataio.importers.households import NEW_HOUSEHOLD_FIELDS
    from outreach.dataio.writers import reserve_ids
    from outreach.people.models import Household, PartyMember

    village = Village.objects.filter(county__code=county, is_placeholder=False).order_by("code").first()
    member = PartyMember.objects.filter(county__code=county).values_list("pk", flat=True).first()
    campaign = ensure_campaign()
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    today = timezone.localdate()

    def household(pk, n):
        return {
            "id": pk, "head_name": f"王{n % 997}", "phone": f"139{n:08d}", "address": f"{village.short_name}{n % 12 + 1}组{n}号",
            "size": n % 5 + 1, "note": "", "county": village.county_id, "town": village.town_id, "village": village.pk,
            "grid": None, "elderly_alone": False, "left_behind": False, "student_family": False, "no_smartphone": False,
            "roster_start": today, "roster_end": None, "end_reason": "", "created_at": stamp, "updated_at": stamp,
        }  # fmt: skip

    def sql(model, fields):
        opts = model._meta
        columns = ", ".join(connection.ops.quote_name(opts.get_field(f).column) for f in fields)
        return f"{connection.ops.quote_name(opts.db_table)} ({columns})"

    assignment_fields = ["campaign", "household", "member", "assigned_by", "created_at", "updated_at"]
    figures = {"rows": rows}
    postgres = connection.vendor == "postgresql"
    cpu, start = cpu_seconds(), time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        ids = reserve_ids(Household, rows)  # real keys, so the rows meet the table's own index pages
        data = [tuple(household(pk, n)[f] for f in NEW_HOUSEHOLD_FIELDS) for n, pk in enumerate(ids)]
        links = [(campaign.pk, pk, member, None, stamp, stamp) for pk in ids]
        if postgres:
            cursor.execute("SELECT pg_current_wal_insert_lsn()")
            lsn = cursor.fetchone()[0]
        cpu, start = cpu_seconds(), time.perf_counter()
        for key, model, fields, values in (
            ("households_seconds", Household, NEW_HOUSEHOLD_FIELDS, data),
            ("assignments_seconds", Assignment, assignment_fields, links),
        ):
            began = time.perf_counter()
            if postgres:
                with cursor.cursor.copy(f"COPY {sql(model, fields)} FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(fields))
                cursor.executemany(f"INSERT INTO {sql(model, fields)} VALUES ({marks})", values)  # noqa: S608
            figures[key] = round(time.perf_counter() - began, 2)
        began = time.perf_counter()
        if postgres:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        else:
            cursor.execute("PRAGMA foreign_key_check")  # SQLite checks at commit; this asks now
        figures["fk_check_seconds"] = round(time.perf_counter() - began, 2)
        figures["seconds"] = round(time.perf_counter() - start, 2)
        figures["cpu_seconds"] = round(cpu_seconds() - cpu, 2)
        if postgres:
            cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [lsn])
            figures["wal_mb"] = round(float(cursor.fetchone()[0]) / 1024 / 1024, 1)
        transaction.set_rollback(True)
    figures["peak_mb"] = peak_mb()
    return figures


def time_export_floor(path, county: str | None = None) -> dict:
    """The 责任分工表 export's own query through one server-side cursor straight into xlsxwriter, one sheet."""
    import xlsxwriter
    from django.db import connection

    from outreach.dataio.exporters import CURSOR_BATCH, responsibility_rows

    county_obj = County.objects.get(code=county) if county else None
    sql, params = responsibility_rows(None, ensure_campaign(), county_obj)

    def work():
        book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "remove_timezone": True})
        ws = book.add_worksheet()
        n = 0
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(CURSOR_BATCH):
                for row in batch:
                    ws.write_row(n, 0, row)
                    n += 1
        book.close()
        return n

    return _timed(work)
