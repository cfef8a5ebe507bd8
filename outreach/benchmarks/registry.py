"""The measurements the benchmark knows, each with the app it needs and the targets the issues set.

A measurement is a function registered with ``@measurement``; it receives the shared ``Context`` and returns
a dict of figures (``median_ms``, ``p95_ms``, ``queries``, ``rows_per_s``, ``peak_mb`` …). When the app it
measures is not installed yet (another branch not merged), it is reported as "尚未可用" with the reason,
so the benchmark runs on any checkout and picks new measurements up as their apps land.

A measurement may also report the floor of what it measures, taken in the same run, so the gap shows as a ratio
that does not move with the machine's load as the times do: ``figures["floor"] = {"figure": "median_ms",
"value": 20.0, "what": "同一查询的原始 SQL"}`` (or a list of such dicts, one per figure). ``Result.as_json``
adds ``ratio`` (figure ÷ floor) and the table prints ``中位 52 ms / 下限 20 ms = 2.6×``.
"""

import importlib.util
import operator
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    """A figure's goal from an issue, e.g. Target("median_ms", "<", 100, "#7")."""

    figure: str
    op: str
    value: float
    issue: str = ""

    def met(self, figures: dict) -> bool | None:
        value = figures.get(self.figure)
        if value is None:
            return None
        return OPS[self.op](value, self.value)

    def label(self) -> str:
        unit = UNITS.get(self.figure, "")
        source = f"（{self.issue}）" if self.issue else ""
        return f"{FIGURE_NAMES.get(self.figure, self.figure)} {self.op} {self.value:g}{unit}{source}"


FIGURE_NAMES = {
    "median_ms": "中位",
    "p95_ms": "p95",
    "queries": "查询数",
    "queries_later": "再次打开的查询数",
    "rows_per_s": "速度",
    "peak_mb": "峰值内存",
    "seconds": "用时",
    "visits_per_s": "吞吐",
    "requests_per_s": "吞吐",
    "p50_ms": "p50",
    "p99_ms": "p99",
    "errors": "错误",
    "requests": "请求数",
    "rows": "行数",
    "app_cpu_ms": "应用CPU/请求",
    "healthz_cpu_ms": "/healthz 的应用CPU/请求",
    "half_rows": "中断后留下的行",
    "rerun_rows": "重新运行写入的行",
    "rerun_ok": "重跑成功",
    "offered_per_s": "发出速率",
    "sent": "收到回答",
    "stored": "存下",
    "unanswered": "截止时未收到回答",
    "floor_ratio": "与下限之比",
    "floor_peak_mb": "下限的峰值内存",
}
UNITS = {
    "median_ms": " ms",
    "p95_ms": " ms",
    "p50_ms": " ms",
    "p99_ms": " ms",
    "rows_per_s": " 行/秒",
    "peak_mb": " MB",
    "seconds": " 秒",
    "visits_per_s": " 次/秒",
    "requests_per_s": " 次/秒",
    "app_cpu_ms": " ms",
    "healthz_cpu_ms": " ms",
    "offered_per_s": " 次/秒",
    "floor_ratio": " 倍",
    "floor_peak_mb": " MB",
}


@dataclass(frozen=True)
class Measurement:
    key: str
    title: str
    group: str
    func: Callable
    requires: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()
    heavy: bool = False  # imports, exports and load runs: skipped by --quick
    modules: tuple[str, ...] = ()  # modules that must exist, such as outreach.dataio.bench

    def missing(self) -> str | None:
        """Why this measurement cannot run on this checkout ("尚未可用：…"), or None."""
        for app in self.requires:
            if not apps.is_installed(app):
                return f"尚未可用：{app} 还没有合并到这个分支"
        for module in self.modules:
            try:
                found = importlib.util.find_spec(module) is not None
            except ModuleNotFoundError:
                found = False
            if not found:
                return f"尚未可用：缺少 {module}"
        return None


@dataclass
class Result:
    measurement: Measurement
    status: str  # "ok", "skipped", "failed"
    figures: dict = field(default_factory=dict)
    note: str = ""

    def verdict(self) -> str:
        if self.status == "skipped":
            return "跳过"
        if self.status == "failed":
            return "出错"
        checks = [t.met(self.figures) for t in self.measurement.targets]
        if not checks:
            return "—"
        if any(c is False for c in checks):
            return "未达标"
        if any(c is None for c in checks):
            return "—"
        return "达标"

    def floors(self) -> list[dict]:
        """The floors the measurement reported, each with its ``ratio`` (``None`` when it cannot be taken)."""
        return [{**floor, "ratio": ratio(self.figures, floor)} for floor in floors_of(self.figures)]

    def as_json(self) -> dict:
        floors = self.floors()
        return {
            "key": self.measurement.key,
            "title": self.measurement.title,
            "group": self.measurement.group,
            "status": self.status,
            "figures": self.figures,
            "targets": [
                {"figure": t.figure, "op": t.op, "value": t.value, "issue": t.issue, "met": t.met(self.figures)}
                for t in self.measurement.targets
            ],
            "verdict": self.verdict(),
            # The first floor's ratio (the one a measurement leads with), and every floor's by its figure.
            "ratio": floors[0]["ratio"] if floors else None,
            "ratios": {floor.get("figure"): floor["ratio"] for floor in floors},
            "note": self.note,
        }


def floors_of(figures: dict) -> list[dict]:
    """``figures["floor"]`` as a list of floor dicts (a measurement may report one dict or a list)."""
    floor = figures.get("floor")
    if isinstance(floor, dict):
        return [floor]
    if isinstance(floor, list | tuple):
        return [f for f in floor if isinstance(f, dict)]
    return []


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def ratio(figures: dict, floor: dict) -> float | None:
    """How many times its floor the figure is (``figures[floor["figure"]] / floor["value"]``), 2 decimals."""
    value, bottom = figures.get(floor.get("figure")), floor.get("value")
    if not (_number(value) and _number(bottom)) or bottom <= 0:
        return None
    return round(value / bottom, 2)


REGISTRY: dict[str, Measurement] = {}


def measurement(key, title, group, *, requires=(), modules=(), targets=(), heavy=False):
    """Register the decorated function as the measurement ``key`` (``requires``: app names)."""

    def register(func):
        REGISTRY[key] = Measurement(key, title, group, func, tuple(requires), tuple(targets), heavy, tuple(modules))
        return func

    return register


def summarize(samples_ms: list[float]) -> dict:
    """Median and 95th percentile (nearest rank) of timings in milliseconds."""
    ordered = sorted(samples_ms)
    rank = max(0, min(len(ordered) - 1, -(-95 * len(ordered) // 100) - 1))
    return {"median_ms": round(statistics.median(ordered), 1), "p95_ms": round(ordered[rank], 1), "runs": len(ordered)}


WORST_OF = {"errors"}  # one failing run is not hidden by two good ones


def median_of(runs: list[dict]) -> dict:
    """The per-figure median of several runs' figures (errors: the worst run; non-numbers: the first run).

    Nested figures are merged the same way, key by key: a ``floor`` dict (or list of them) gets the median
    of its ``value`` across the runs, its ``figure`` and ``what`` from the first run.
    """
    merged = _merge(runs)
    merged["runs"] = len(runs)
    return merged


def _merge(runs: list[dict]) -> dict:
    merged = dict(runs[0])
    for name, value in runs[0].items():
        if name in WORST_OF:
            merged[name] = max(r.get(name) or 0 for r in runs)
        elif _number(value):
            values = [r[name] for r in runs if _number(r.get(name))]
            middle = statistics.median(values)
            if all(isinstance(v, int) for v in values):
                merged[name] = round(middle)  # counts stay whole numbers
            else:
                merged[name] = round(middle, 1)
        elif isinstance(value, dict):
            merged[name] = _merge([r[name] for r in runs if isinstance(r.get(name), dict)])
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lists = [r[name] for r in runs if isinstance(r.get(name), list) and len(r[name]) == len(value)]
            merged[name] = [_merge([items[i] for items in lists]) for i in range(len(value))]
    return merged
