"""Printing the results: a table for people, one JSON line for machines, and the block in docs/benchmarks.md."""

import datetime as dt
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from django.db import connection

from outreach.benchmarks.registry import FIGURE_NAMES, UNITS, Result, floors_of, ratio

DOCS_START = "<!-- benchmark:latest:start -->"
DOCS_END = "<!-- benchmark:latest:end -->"
SHOWN = [
    "median_ms",
    "p95_ms",
    "queries",
    "queries_later",
    "rows",
    "seconds",
    "rows_per_s",
    "peak_mb",
    "offered_per_s",
    "visits_per_s",
    "requests_per_s",
    "p50_ms",
    "p99_ms",
    "errors",
    "app_cpu_ms",
    "sent",
    "stored",
    "unanswered",
    "half_rows",
    "rerun_rows",
    "rerun_ok",
]


def machine() -> dict:
    """The machine and software the figures were taken on."""
    info = {
        "nproc": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "database": connection.vendor,
        "database_version": _database_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    for package in ("django", "gunicorn", "psycopg"):
        try:
            info[package] = version(package)
        except PackageNotFoundError:
            info[package] = None
    info["wrk"] = _wrk_version()
    info["commit"] = _commit()
    return info


def _commit():
    """The checked-out commit (with "+" when the work tree has changes), so figures name their code."""
    from django.conf import settings

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def _memory_gb():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None
    return None


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return platform.processor() or None
    return None


def _database_version():
    if connection.vendor == "sqlite":
        return sqlite3.sqlite_version
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def _wrk_version():
    if not shutil.which("wrk"):
        return None
    completed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=10, check=False)
    match = re.search(r"wrk (\S+)", completed.stdout + completed.stderr)
    return match.group(1) if match else "unknown"


def _value(name: str, value) -> str:
    shown = f"{value:,.0f}" if isinstance(value, float) and value >= 1000 else f"{value:,}"
    return f"{shown}{UNITS.get(name, '')}"


def format_figures(figures: dict) -> str:
    """One row's figures; a figure with a floor reads ``中位 52 ms / 下限 20 ms = 2.6×``, and what each floor
    is follows at the end (``下限：…``)."""
    floors = {}
    for floor in floors_of(figures):
        floors.setdefault(floor.get("figure"), floor)
    parts = []
    for name in SHOWN:
        if name in figures and figures[name] is not None:
            part = f"{FIGURE_NAMES[name]} {_value(name, figures[name])}"
            floor = floors.pop(name, None)
            if floor is not None and floor.get("value") is not None:
                part += f" / 下限 {_value(name, floor['value'])}"
                times = ratio(figures, floor)
                if times is not None:
                    part += f" = {times:.1f}×"
            parts.append(part)
    for name, floor in floors.items():  # a floor of a figure the row does not show
        if floor.get("value") is not None:
            parts.append(f"{FIGURE_NAMES.get(name, name)}下限 {_value(name, floor['value'])}")
    whats = [floor["what"] for floor in floors_of(figures) if floor.get("what")]
    if whats:
        parts.append("下限：" + "；".join(whats))
    return "，".join(parts)


def rows(results: list[Result]) -> list[tuple[str, str, str, str]]:
    table = []
    for result in results:
        m = result.measurement
        shown = format_figures(result.figures) if result.status == "ok" else result.note
        targets = "；".join(t.label() for t in m.targets) or "—"
        table.append((m.title, shown, targets, result.verdict()))
    return table


def table_text(results: list[Result]) -> str:
    lines = []
    group = None
    for result, row in zip(results, rows(results), strict=True):
        if result.measurement.group != group:
            group = result.measurement.group
            lines.append(f"\n【{group}】")
        title, shown, targets, verdict = row
        lines.append(f"  {verdict:<4} {title}：{shown}" + (f"   目标 {targets}" if targets != "—" else ""))
    return "\n".join(lines).lstrip("\n")


def table_markdown(results: list[Result]) -> str:
    lines = ["| 测量 | 结果 | 目标 | 结论 |", "| --- | --- | --- | --- |"]
    for title, shown, targets, verdict in rows(results):
        lines.append(f"| {title} | {shown.replace('|', '/')} | {targets} | {verdict} |")
    return "\n".join(lines)


def payload(results: list[Result], *, info: dict, scale: dict, command: str, started: dt.datetime) -> dict:
    return {
        "benchmark": "fanzha-city",
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "machine": info,
        "scale": scale,
        "results": [r.as_json() for r in results],
    }


def json_line(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def write_docs(path: Path, results: list[Result], data: dict, note: str = "") -> None:
    """Replace the latest-results block of ``path`` (between the markers), keeping the rest of the file."""
    info, scale = data["machine"], data["scale"]
    load_start = info.get("load_average_start", info.get("load_average"))
    load_end = info.get("load_average_end")
    block = [
        DOCS_START,
        f"最近一次：{data['date']}，命令 `{data['command']}`",
        "",
        f"- 机器：{info['nproc']} 核（{info.get('cpu') or '未知 CPU'}），内存 {info.get('memory_gb')} GB，"
        f"{info.get('os')}；1/5/15 分钟系统负载：开始时 {load_start}，结束时 {load_end}",
        f"- 软件：Python {info['python']}，Django {info.get('django')}，{info['database']} "
        f"{info.get('database_version')}，gunicorn {info.get('gunicorn')}，psycopg {info.get('psycopg')}，"
        f"wrk {info.get('wrk') or '（未安装，用 Python 负载生成器）'}",
        f"- 代码：{info.get('commit') or '未知'}",
        f"- 数据：住户 {scale.get('households', 0):,}，党员 {scale.get('members', 0):,}，"
        f"走访 {scale.get('visits', 0):,}，通报 {scale.get('report_days', 0)} 天",
    ]
    if note:
        block.append(f"- 说明：{note}")
    block += ["", table_markdown(results), "", DOCS_END]
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new = "\n".join(block)
    if DOCS_START in text and DOCS_END in text:
        head, rest = text.split(DOCS_START, 1)
        tail = rest.split(DOCS_END, 1)[1]
        text = head + new + tail
    else:
        text = (text.rstrip() + "\n\n" if text else "") + new + "\n"
    path.write_text(text, encoding="utf-8")


def command_line() -> str:
    """The command as someone would retype it (the note and the JSON copy left out); under make, say so."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg in ("--note", "--json-out"):
            skip = True
            continue
        if arg.startswith(("--note=", "--json-out=")):
            continue
        args.append(arg)
    command = " ".join([Path(sys.argv[0]).name, *args])
    return f"make bench（{command}）" if os.environ.get("MAKELEVEL") else command
