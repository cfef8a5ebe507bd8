"""Ranking tables: columns declared once; levels leave out the columns that mean nothing for them."""

import django_tables2 as tables
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django_tables2.data import TableListData
from django_tables2.utils import Accessor, OrderBy

from outreach.lib import metrics as m
from outreach.lib import xlsx
from outreach.places.models import short_population_label


class NoneLastListData(TableListData):
    """List data sorted so that rows without a figure ("—") come last in either direction."""

    def order_by(self, aliases):
        accessors = []
        for alias in aliases:
            bound = self.table.columns[OrderBy(alias).bare]
            # As in TableListData: the bound column's order_by already reflects the current direction.
            accessors += bound.order_by.opposite if alias[0] != bound.order_by_alias[0] else bound.order_by
        for order in reversed(accessors):
            accessor = Accessor(order.bare)
            present = [r for r in self.data if accessor.resolve(r, quiet=True) is not None]
            missing = [r for r in self.data if accessor.resolve(r, quiet=True) is None]
            present.sort(key=lambda r, a=accessor: a.resolve(r, quiet=True), reverse=order.is_descending)
            self.data[:] = present + missing


class BaseTable(tables.Table):
    """Project base: list data with "—" last, the app's CSS class, a Chinese empty text."""

    class Meta:
        attrs = {"class": "data-table"}
        empty_text = "没有数据"
        orderable = True
        template_name = "dashboards/table.html"

    def __init__(self, data, *args, **kwargs):
        if isinstance(data, list):
            data = NoneLastListData(data)
        super().__init__(data, *args, **kwargs)

    def tbody_html(self):
        """The body rows as HTML, built in Python: django-tables2's per-cell template rendering (signature
        inspection, attrs per cell) cost ~90 ms for a 13-row ranking; this costs under 1 ms."""
        columns = []
        for bound in self.columns:
            if not bound.visible:
                continue
            css = bound.attrs.get("td", {}).get("class", "")
            opening = format_html('<td class="{}">', css) if css else mark_safe("<td>")
            column = bound.column
            # Numbers and percentages (digits, ",", ".", "%", "—") need no escaping.
            cell = getattr(column, "cell_text", None) or getattr(column, "cell_html", None)
            columns.append((cell, bound.name, opening, hasattr(column, "cell_text")))
        out = []
        for record in self.data:
            cells = ["<tr>"]
            for cell, name, opening, plain in columns:
                if cell is None:
                    value = record.get(name)
                    value = m.DASH if value is None else value
                else:
                    value = cell(record)
                cells.append(f"{opening}{value if plain else conditional_escape(value)}</td>")
            cells.append("</tr>")
            out.append("".join(cells))
        return mark_safe("".join(out))

    def thead_html(self):
        """The header row as HTML, built in Python as django-tables2's template builds it (the sort link keeps the
        rest of the query string): its per-column template rendering cost as much as the 13 body rows did."""
        params = dict(self.request.GET) if getattr(self, "request", None) is not None else {}
        cells = []
        for bound in self.columns:
            if not bound.visible:
                continue
            attrs = bound.attrs["th"].as_html()
            opening = format_html("<th {}>", attrs) if attrs else mark_safe("<th>")
            header = conditional_escape(bound.header)
            if bound.orderable:
                query = urlencode({**params, self.prefixed_order_by_field: str(bound.order_by_alias.next)}, doseq=True)
                header = format_html('<a href="{}">{}</a>', f"?{query}", header)
            cells.append(f"{opening}{header}</th>")
        return mark_safe("<thead><tr>" + "".join(cells) + "</tr></thead>")

    def as_html(self):
        """The whole table as ``{% render_table %}`` draws it with ``dashboards/table.html`` (for a table shown on
        one page, unpaginated), without the template: its blocks and context cost as much as the rows."""
        if self.data:
            body = self.tbody_html()
        else:
            body = format_html('<tr><td colspan="{}">{}</td></tr>', len(self.columns), self.empty_text)
        head = self.thead_html() if self.show_header else ""
        attrs = self.attrs.as_html()
        return format_html(
            '<div class="table-container"><table {}>{}<tbody>{}</tbody></table></div>', attrs, head, body
        )

    def export_columns(self) -> list[xlsx.Column]:
        """The visible columns as the xlsx writer's columns: typed cells, "—" where the page shows it."""
        return [
            c.column.export_column(str(c.header), self)
            if hasattr(c.column, "export_column")
            else xlsx.Column(str(c.header), kind="text", missing=m.DASH)
            for c in self.columns
            if c.visible
        ]

    def export_rows(self):
        """The rows in the table's order and visible columns: numbers, percentages and changes as values."""
        columns = [c for c in self.columns if c.visible]
        for row in self.rows:
            yield [
                c.column.export_value(row.record) if hasattr(c.column, "export_value") else row.get_cell_value(c.name)
                for c in columns
            ]


class FigureColumn(tables.Column):
    """An integer figure, shown with thousands separators; "—" when unknown."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "num"}, "th": {"class": "num"}})
        kwargs.setdefault("default", m.DASH)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return f"{value:,}"

    def cell_text(self, record):
        value = record.get(self.accessor) if "." not in self.accessor else self.accessor.resolve(record, quiet=True)
        return m.DASH if value is None else f"{value:,}"

    def export_value(self, record):
        return self.accessor.resolve(record, quiet=True)

    def export_column(self, header, table):
        return xlsx.Column(header, kind="number", num_format="#,##0", missing=m.DASH)


class MetricColumn(tables.Column):
    """A metric from ``metrics``: sorted on its exact value, shown rounded, with its definition as title."""

    def __init__(self, key: str, **kwargs):
        self.metric = m.BY_KEY[key]
        kwargs.setdefault("attrs", {"td": {"class": "num"}, "th": {"class": "num", "title": self.metric.definition}})
        kwargs.setdefault("default", m.DASH)
        super().__init__(verbose_name=self.metric.name, accessor=f"v_{key}", **kwargs)

    def render(self, value):
        return m.format_value(self.metric, value)

    def cell_text(self, record):
        return m.format_value(self.metric, record.get(self.accessor))

    def export_value(self, record):
        return m.export_value(self.metric, record.get(f"v_{self.metric.key}"))

    def export_column(self, header, table):
        return metric_column(header, self.metric)


def metric_column(header: str, metric: m.Metric) -> xlsx.Column:
    """An export column for ``metric``: a percentage cell for a rate, a number for a count."""
    if metric.is_rate:
        return xlsx.Column(header, kind="percent", missing=m.DASH)
    return xlsx.Column(header, kind="number", num_format="#,##0", missing=m.DASH)


class DeltaColumn(tables.Column):
    """较上期: the change of the ranked metric since the previous report (percentage points or a count)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "num"}})
        # Sorted on the number itself (delta_value), not on its text; "—" last either way (NoneLastListData).
        super().__init__(verbose_name="较上期", accessor="delta", order_by=("delta_value",), default=m.DASH, **kwargs)

    def export_value(self, record):
        return record.get("delta_value")

    def export_column(self, header, table):
        metric = getattr(table, "metric", None)
        decimals = 2 if metric is None or metric.is_rate else 0
        return xlsx.Column(header, kind="change", decimals=decimals, missing=m.DASH)


class RankChangeColumn(tables.Column):
    def __init__(self, **kwargs):
        super().__init__(verbose_name="名次升降", accessor="rank_change", default=m.DASH, **kwargs)

    def render(self, value):
        text = m.format_rank_change(value)
        if value > 0:
            return format_html('<span class="up">{}</span>', text)
        if value < 0:
            return format_html('<span class="down">{}</span>', text)
        return text

    def cell_html(self, record):
        value = record.get("rank_change")
        return m.DASH if value is None else self.render(value)

    def export_value(self, record):
        return m.format_rank_change(record.get("rank_change"))

    def export_column(self, header, table):
        return xlsx.Column(header, kind="text", missing=m.DASH)


class NameColumn(tables.Column):
    def render(self, value, record):
        if record.get("url"):
            return format_html('<a href="{}">{}</a>', record["url"], value)
        return value

    def cell_html(self, record):
        return self.render(record.get("name"), record)

    def export_value(self, record):
        return record.get("name")

    def export_column(self, header, table):
        return xlsx.Column(header, kind="text", missing=m.DASH)


class FlaggedShareColumn(tables.Column):
    """疑点走访占比 (``metrics.FLAGGED_SHARE``): a badge on rows with flagged visits, the share as a number in Excel."""

    def __init__(self, **kwargs):
        self.metric = m.FLAGGED_SHARE
        kwargs.setdefault("attrs", {"td": {"class": "num"}, "th": {"class": "num", "title": self.metric.definition}})
        super().__init__(verbose_name=self.metric.name, accessor=f"v_{self.metric.key}", default=m.DASH, **kwargs)

    def cell_html(self, record):
        value = record.get(f"v_{self.metric.key}")
        text = m.format_value(self.metric, value)
        if value:
            flagged = record.get("flagged_visits") or 0
            return format_html('<span class="flag-badge" title="疑点走访{}次">疑 {}</span>', f"{flagged:,}", text)
        return text

    def render(self, value, record):
        return self.cell_html(record)

    def export_value(self, record):
        return m.export_value(self.metric, record.get(f"v_{self.metric.key}"))

    def export_column(self, header, table):
        return metric_column(header, self.metric)


class PopulationSourceColumn(tables.Column):
    """常住人口口径: which 常住人口 a row's 注册率 and 实名率 divide by. The cell shows the short name
    (七普（2020）) with the full one as its tooltip, so a row stays one line; Excel gets the full name."""

    def __init__(self, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "basis"}})
        super().__init__(verbose_name="常住人口口径", accessor="population_source", orderable=False, **kwargs)

    def cell_html(self, record):
        label = record.get("population_source")
        if not label:
            return m.DASH
        return format_html('<span title="{}">{}</span>', label, short_population_label(label))

    def render(self, value, record):
        return self.cell_html(record)

    def export_value(self, record):
        return record.get("population_source") or None

    def export_column(self, header, table):
        return xlsx.Column(header, kind="text", missing=m.DASH)


class ReconcileColumn(tables.Column):
    """通报对账: the reconciliation flags of a county or town row (``queries.reconcile_row``) as badges."""

    def __init__(self, **kwargs):
        title = "；".join(f"{m.RECONCILE_FLAGS[k]}：{d}" for k, d in m.RECONCILE_DEFINITIONS.items())
        kwargs.setdefault("attrs", {"th": {"title": title}})
        super().__init__(verbose_name="通报对账", accessor="reconcile", default="", orderable=False, **kwargs)

    def cell_html(self, record):
        flags = record.get("reconcile") or []
        return format_html_join(
            "",
            '<span class="flag-badge warn" title="{}">{}</span>',
            ((m.RECONCILE_DEFINITIONS[f], m.RECONCILE_FLAGS[f]) for f in flags),
        )

    def render(self, value, record):
        return self.cell_html(record)

    def export_value(self, record):
        return "、".join(m.RECONCILE_FLAGS[f] for f in record.get("reconcile") or [])

    def export_column(self, header, table):
        return xlsx.Column(header, kind="text", missing="")


OFFICIAL_COLUMNS = [
    "population",
    "population_source",
    "registered",
    "verified",
    "registration_rate",
    "verification_rate",
    "verified_share",
]
MEMBER_COLUMNS = ["members", "active_members", "participation_rate"]


class RankingTable(BaseTable):
    rank = FigureColumn(verbose_name="名次")
    rank_change = RankChangeColumn()
    name = NameColumn(verbose_name="单位", attrs={"td": {"class": "name"}})
    delta = DeltaColumn()
    population = FigureColumn(verbose_name="常住人口")
    # Which 常住人口 each row's 注册率 and 实名率 divide by (census or a bulletin's figure), on the page and in Excel.
    population_source = PopulationSourceColumn()
    registered = FigureColumn(verbose_name="安装注册人数")
    verified = FigureColumn(verbose_name="实名用户数")
    registration_rate = MetricColumn("registration_rate")
    verification_rate = MetricColumn("verification_rate")
    verified_share = MetricColumn("verified_share")
    households = FigureColumn(verbose_name="住户数")
    assigned = FigureColumn(verbose_name="已包联户数")
    coverage_rate = MetricColumn("coverage_rate")
    visited = FigureColumn(verbose_name="有效入户户数")
    visit_rate = MetricColumn("visit_rate")
    signed = FigureColumn(verbose_name="签承诺书户数")
    pledge_rate = MetricColumn("pledge_rate")
    members = FigureColumn(verbose_name="党员数")
    active_members = FigureColumn(verbose_name="参与走访党员数")
    participation_rate = MetricColumn("participation_rate")
    app_installed = FigureColumn(verbose_name="已安装")
    app_registered = FigureColumn(verbose_name="已注册")
    install_to_register = MetricColumn("install_to_register")
    app_verified = FigureColumn(verbose_name="已实名")
    register_to_verify = MetricColumn("register_to_verify")
    alerts_enabled = FigureColumn(verbose_name="预警已开启")
    verify_to_alerts = MetricColumn("verify_to_alerts")
    gap = FigureColumn(verbose_name="通报注册−走访注册")
    reconcile = ReconcileColumn()
    flagged_share = FlaggedShareColumn()

    class Meta(BaseTable.Meta):
        pass

    EXCLUDED_BY_LEVEL = {
        "county": [],
        "town": [],
        "zone": [],
        "village": OFFICIAL_COLUMNS + ["gap", "reconcile"],
        "grid": OFFICIAL_COLUMNS + ["gap", "reconcile"] + MEMBER_COLUMNS,
        "organization": OFFICIAL_COLUMNS + ["gap", "reconcile", "coverage_rate", "assigned"],
    }

    def __init__(self, *args, metric: m.Metric | None = None, **kwargs):
        self.metric = metric  # the ranked metric: 较上期 is in its unit
        super().__init__(*args, **kwargs)

    @classmethod
    def for_level(cls, level: str, rows: list[dict], metric: m.Metric | None = None, **kwargs):
        # The ranked metric right after the unit, before 较上期: on a 390 px phone the four columns a leader
        # reads (名次, 单位, the metric, 较上期) fit the screen; the rest scroll sideways (the page and Excel alike).
        if metric is not None and metric.key in cls.base_columns and "sequence" not in kwargs:
            kwargs["sequence"] = ("rank", "rank_change", "name", metric.key, "delta", "...")
        return cls(rows, exclude=cls.EXCLUDED_BY_LEVEL[level], metric=metric, **kwargs)


class SuperviseColumn(tables.Column):
    """督办 on a ranking row, for the unit's issuer level only: opens a 督办单 by hand, or leads to the one
    still open. Never exported (an action, not a figure)."""

    def __init__(self, **kwargs):
        super().__init__(verbose_name="督办", accessor="supervise_url", orderable=False, default="", **kwargs)

    def cell_html(self, record):
        url = record.get("supervise_url")
        if not url:
            return ""
        css = "button button-small" if record.get("supervise_new") else "muted"
        return format_html('<a class="{}" href="{}">{}</a>', css, url, record.get("supervise_label"))

    def render(self, value, record):
        return self.cell_html(record)


class SupervisionOrderTable(BaseTable):
    """The 督办单 list: a queryset paged without a COUNT, each column read from the order."""

    # What a phone shows first: the unit, its state (逾期) and the deadline; the rest scrolls inside the box.
    unit_name = tables.Column(
        verbose_name="督办单位",
        linkify=("dashboards:supervision_detail", [Accessor("pk")]),
        attrs={"td": {"class": "name"}},
    )
    state = tables.Column(verbose_name="状态")
    deadline = tables.DateColumn(verbose_name="整改期限", format="Y-m-d")
    level = tables.Column(verbose_name="层级", accessor="pk", orderable=False)
    county = tables.Column(verbose_name="县（市、区）", accessor="county__name", order_by=("county__code",))
    reason = tables.Column(verbose_name="督办原因")
    bulletin = tables.Column(verbose_name="来源通报", accessor="bulletin", orderable=False, default="—")
    assignee = tables.Column(verbose_name="须回复人", default="—", orderable=False)
    created_at = tables.DateTimeColumn(verbose_name="督办时间", format="Y-m-d H:i")

    class Meta(BaseTable.Meta):
        template_name = "django_tables2/table.html"
        empty_text = "没有督办单"
        order_by = ("-created_at",)

    def render_level(self, record):
        from outreach.dashboards.supervision import LEVELS, level_of

        return LEVELS[level_of(record)]

    def render_reason(self, record):
        return record.get_reason_display()

    def render_bulletin(self, value):
        return value.label

    def render_state(self, record):
        if record.is_overdue:
            return format_html('{} <span class="overdue">逾期</span>', record.get_state_display())
        return record.get_state_display()


class DateColumn(tables.Column):
    """A date shown as 2021-08-13 and written as a date cell; "—" when unknown."""

    def cell_html(self, record):
        value = self.accessor.resolve(record, quiet=True)
        return m.DASH if value is None else f"{value:%Y-%m-%d}"

    def export_value(self, record):
        return self.accessor.resolve(record, quiet=True)

    def export_column(self, header, table):
        return xlsx.Column(header, kind="date", missing=m.DASH)


class ChangeColumn(tables.Column):
    """A signed integer change (差额较上期): "+120", a signed number cell in Excel."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"td": {"class": "num"}, "th": {"class": "num"}})
        super().__init__(*args, **kwargs)

    def cell_html(self, record):
        value = self.accessor.resolve(record, quiet=True)
        return m.DASH if value is None else f"{value:+,}"

    def export_value(self, record):
        return self.accessor.resolve(record, quiet=True)

    def export_column(self, header, table):
        return xlsx.Column(header, kind="change", decimals=0, missing=m.DASH)


class ReconciliationTable(BaseTable):
    """通报 vs 走访 per county or town on one date (``queries.reconciliation``), flagged units first."""

    name = NameColumn(verbose_name="单位", attrs={"td": {"class": "name"}})
    reconcile = ReconcileColumn()
    report_date = DateColumn(verbose_name="通报日期")
    registered = FigureColumn(verbose_name="通报安装注册人数")
    app_registered = FigureColumn(verbose_name="走访注册人数")
    gap = FigureColumn(verbose_name="通报注册−走访注册")
    previous_registered = FigureColumn(verbose_name="上期通报安装注册人数")
    previous_app_registered = FigureColumn(verbose_name="上期走访注册人数")
    previous_gap = FigureColumn(verbose_name="上期差额")
    gap_change = ChangeColumn(verbose_name="差额较上期")

    class Meta(BaseTable.Meta):
        orderable = False
