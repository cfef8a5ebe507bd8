"""Every figure the campaign is judged by, defined once: name, numerator, denominator, definition.

Rankings, tables, exports, bulletins, the phone's review page and the ``leaderboard`` command all read these
definitions. They live in ``lib`` (they import no app) so every app on top, dashboards, dataio and mobile, can. A rate is
kept as two integers (numerator, denominator) and turned into a number only for sorting (an exact
``Fraction``) and for display (rounded half up to two decimals): no float ever decides a rank. A missing
or zero denominator gives ``None``, shown as "—" and sorted last in either direction.
"""

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

DASH = "—"


def rate_basis_points(num: int, den: int) -> int:
    """num ÷ den in hundredths of a percent, rounded half up, from integers only."""
    return (num * 20000 + den) // (2 * den)


def rate_fraction(num: int | None, den: int | None) -> Fraction | None:
    """num ÷ den exactly, or ``None`` without a denominator."""
    if num is None or not den:
        return None
    return Fraction(num, den)


def percent_target(value) -> Fraction | None:
    """A campaign target typed in percent (``Decimal("30.00")``) as an exact fraction (3/10)."""
    if value is None:
        return None
    return Fraction(Decimal(value)) / 100


def rate_percent(num: int | None, den: int | None) -> Decimal | None:
    """num ÷ den as a percentage rounded half up to two decimals (1/32 → Decimal("3.13")); None if undefined.

    Pages show it with a "%", exports store it as a percentage cell: both are this one rounding.
    """
    if num is None or not den:
        return None
    return Decimal(rate_basis_points(num, den)).scaleb(-2)


def format_rate(num: int | None, den: int | None) -> str:
    percent = rate_percent(num, den)
    return DASH if percent is None else f"{percent}%"


def sort_key(value, descending: bool = True):
    """A key that puts ``None`` last whichever way the list is sorted."""
    if value is None:
        return (1, 0)
    return (0, -value if descending else value)


# Integer figures a ranking row carries (official from RegistrationReport, field from the summaries).
FIGURES = {
    "population": "常住人口",
    "registered": "安装注册人数",
    "verified": "实名用户数",
    "households": "住户数",
    "assigned": "已包联户数",
    "visited": "有效入户户数",
    "signed": "签承诺书户数",
    "visits": "走访次数",
    "qualified_visits": "有效走访次数",
    "flagged_visits": "疑点走访次数",
    "members": "党员数",
    "active_members": "参与走访党员数",
    "app_installed": "走访安装App人数",
    "app_registered": "走访注册人数",
    "app_verified": "走访实名人数",
    "alerts_enabled": "开启预警人数",
}


@dataclass(frozen=True)
class Metric:
    """A rate (numerator ÷ denominator) or a count (denominator ``None``) with its Chinese definition."""

    key: str
    name: str
    numerator: str
    denominator: str | None
    definition: str
    source: str  # "official" (通报数据) or "field" (本系统走访记录)

    @property
    def is_rate(self) -> bool:
        return self.denominator is not None

    def parts(self, row: dict) -> tuple[int | None, int | None]:
        return row.get(self.numerator), (row.get(self.denominator) if self.denominator else None)

    def value(self, row: dict):
        """Exact value for sorting: a Fraction for a rate, an int for a count, None when undefined."""
        num, den = self.parts(row)
        if num is None:
            return None
        if not self.is_rate:
            return num
        if not den:
            return None
        return Fraction(num, den)

    def display(self, row: dict) -> str:
        return format_value(self, self.value(row))

    def cell(self, row: dict):
        """The value an export writes: the rounded percentage (``Decimal("3.13")``) of a rate, the count."""
        return export_value(self, self.value(row))


METRICS: list[Metric] = [
    Metric(
        "registration_rate",
        "注册率",
        "registered",
        "population",
        "安装注册人数 ÷ 常住人口（通报数据；常住人口取通报所给，未给时用县的常住人口，默认第七次人口普查 2020 年数；每行写明所用口径）",
        "official",
    ),
    Metric(
        "verification_rate",
        "实名率",
        "verified",
        "population",
        "实名用户数 ÷ 常住人口（通报数据；常住人口同注册率）",
        "official",
    ),
    Metric(
        "verified_share",
        "实名/注册",
        "verified",
        "registered",
        "实名用户数 ÷ 安装注册人数（通报数据）",
        "official",
    ),
    Metric(
        "coverage_rate",
        "包联覆盖率",
        "assigned",
        "households",
        "本活动中已有包联党员的住户数 ÷ 当日在花名册上的住户数",
        "field",
    ),
    Metric(
        "visit_rate",
        "入户率",
        "visited",
        "households",
        "截至当日有过至少一次有效走访、当日仍在花名册上的住户数 ÷ 当日在花名册上的住户数（有效走访按活动规则，默认真人见、讲解至少一类诈骗、签承诺书）",
        "field",
    ),
    Metric(
        "pledge_rate",
        "承诺书签署率",
        "signed",
        "households",
        "截至当日在走访中签了承诺书、当日仍在花名册上的住户数 ÷ 当日在花名册上的住户数",
        "field",
    ),
    Metric(
        "participation_rate",
        "党员参与率",
        "active_members",
        "members",
        "截至当日至少有一次有效走访的党员数 ÷ 当日在名册上的党员数（按党员所在党组织归属）",
        "field",
    ),
    Metric(
        "app_registered",
        "走访注册App人数",
        "app_registered",
        None,
        "截至当日走访记录中现场注册国家反诈中心App的人数（计数，不是比率）",
        "field",
    ),
    Metric(
        "install_to_register",
        "安装→注册",
        "app_registered",
        "app_installed",
        "走访记录：现场注册人数 ÷ 现场安装人数",
        "field",
    ),
    Metric(
        "register_to_verify",
        "注册→实名",
        "app_verified",
        "app_registered",
        "走访记录：现场实名人数 ÷ 现场注册人数",
        "field",
    ),
    Metric(
        "verify_to_alerts",
        "实名→预警开启",
        "alerts_enabled",
        "app_verified",
        "走访记录：开启来电预警人数 ÷ 现场实名人数（乡镇以开启预警为注册完成）",
        "field",
    ),
]
# 疑点走访占比: shown beside every ranking row (a badge), never ranked (a lower share is better, and a ranking
# by it would reward units that record nothing). Its denominator is the figure labelled 走访次数.
FLAGGED_SHARE = Metric(
    "flagged_share",
    "疑点走访占比",
    "flagged_visits",
    next(key for key, label in FIGURES.items() if label == "走访次数"),
    "截至当日有疑点（待核查或确认有误）的走访次数 ÷ 走访次数；疑点由走访到达后自动运行的检查标出，核查确认无误的不算",
    "field",
)
BY_KEY = {m.key: m for m in METRICS}
BY_NAME = {m.name: m for m in METRICS}
DEFAULT_METRIC = "registration_rate"
# Level → the metric a ranking of that level sorts by unless told otherwise.
DEFAULT_METRIC_BY_LEVEL = {
    "county": "registration_rate",
    "town": "visit_rate",
    "zone": "visit_rate",
    "village": "visit_rate",
    "grid": "visit_rate",
    "organization": "participation_rate",
}
# The App funnel from the field records: 已安装 → 已注册 → 已实名 → 预警已开启.
FUNNEL = [
    ("app_installed", "已安装"),
    ("app_registered", "已注册"),
    ("app_verified", "已实名"),
    ("alerts_enabled", "预警已开启"),
]


def get_metric(key_or_name: str) -> Metric:
    """A metric by its key (``registration_rate``) or its Chinese name (``注册率``)."""
    metric = BY_KEY.get(key_or_name) or BY_NAME.get(key_or_name)
    if metric is None:
        names = "、".join(m.name for m in METRICS)
        raise KeyError(f"没有这个指标：{key_or_name}（可选：{names}）")
    return metric


def export_value(metric: Metric, value):
    """``metric.value()`` as an export writes it: a rate's rounded percentage, a count as is, or None."""
    if value is None or not metric.is_rate:
        return value
    return rate_percent(value.numerator, value.denominator)


def format_value(metric: Metric, value) -> str:
    if value is None:
        return DASH
    if not metric.is_rate:
        return f"{value:,}"
    return format_rate(value.numerator, value.denominator)


def delta_value(metric: Metric, current, previous):
    """The change of ``metric`` since the previous report: Decimal percentage points (rounded half up, the
    sign kept for a change that rounds to zero), an int for a count, None when either side is unknown."""
    if current is None or previous is None:
        return None
    diff = current - previous
    if not metric.is_rate:
        return diff
    points = Decimal(rate_basis_points(abs(diff.numerator), diff.denominator)).scaleb(-2)
    return points.copy_negate() if diff < 0 else points


def format_delta(metric: Metric, current, previous) -> str:
    """The change of ``metric`` since the previous report: "+0.35" (percentage points) or "+120"."""
    value = delta_value(metric, current, previous)
    if value is None:
        return DASH
    if not metric.is_rate:
        return f"{value:+,}"
    return f"{value:+.2f}"


def format_rank_change(change: int | None) -> str:
    """名次升降 as pages and exports show it: ↑2, ↓1, 持平, or "—" when there is no previous rank."""
    if change is None:
        return DASH
    if change > 0:
        return f"↑{change}"
    if change < 0:
        return f"↓{-change}"
    return "持平"


def rank_rows(rows: list[dict], metric: Metric) -> list[dict]:
    """Sort ``rows`` best first by ``metric`` and number them; equal values share a rank (1, 2, 2, 4)."""
    for row in rows:
        row["_value"] = metric.value(row)
    rows.sort(key=lambda r: (sort_key(r["_value"]), r.get("code") or "", r.get("name") or ""))
    previous, rank = object(), 0
    for position, row in enumerate(rows, start=1):
        if row["_value"] is None:
            row["rank"] = None
            continue
        if row["_value"] != previous:
            rank, previous = position, row["_value"]
        row["rank"] = rank
    return rows


# 通报 vs 走访: the official 安装注册人数 beside the registrations recorded in visits, per county or town and date.
RECONCILE_FLAGS = {
    "field_over": "走访注册多于通报",
    "gap_jump": "差额突变",
}
RECONCILE_DEFINITIONS = {
    "field_over": "走访记录的现场注册人数多于通报的安装注册人数：不可能，说明重复计数或虚报走访",
    "gap_jump": "通报注册−走访注册的差额与上一期相比变化超过上一期安装注册人数的一定比例（默认 10%）",
}


def reconcile(official, field, previous_official=None, previous_field=None, jump_percent=10) -> list[str]:
    """The reconciliation flags (keys of ``RECONCILE_FLAGS``) of one unit on one date, from integers only.

    ``field_over`` when the visits claim more registrations than the official figure; ``gap_jump`` when the gap
    (official − field) moved since the previous report by more than ``jump_percent`` % of the previous official
    figure. No official figure, no flag (shown "—")."""
    if official is None or field is None:
        return []
    flags = []
    if field > official:
        flags.append("field_over")
    if previous_official and previous_field is not None:
        moved = abs((official - field) - (previous_official - previous_field))
        if moved * 100 > Fraction(Decimal(jump_percent)) * previous_official:
            flags.append("gap_jump")
    return flags
