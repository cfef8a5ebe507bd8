"""Measuring imports and exports at a county's scale (for the benchmarks app and ``manage.py dataio_bench``).

``build_responsibility_xlsx`` writes an N-row 责任分工表 on the real villages of a county (one sheet per town,
title and 填报单位 rows, each member named once over their ten households, phones in clerks' spellings).
``time_import`` and ``time_export`` run the service code the admin and the commands run and return plain
dicts: rows, seconds, rows per second and the process's peak memory in MB. Peak memory is the process
high-water mark (``ru_maxrss``): run each measurement in a fresh process for a clean figure.
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
    """The process's peak resident memory in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
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
