"""Line charts as inline SVG drawn on the server: no CDN, no script, allowed by a strict CSP."""

from decimal import Decimal
from fractions import Fraction

from outreach.lib.metrics import format_rate

# Kelly's colours of maximum contrast (13, one per county, none twice); lines after the seventh are also dashed
# so that two close hues are told apart on a cheap screen or a grey printout.
PALETTE = [
    "#be0032",
    "#0067a5",
    "#008856",
    "#f38400",
    "#875692",
    "#848482",
    "#f3c300",
    "#882d17",
    "#a1caf1",
    "#e68fac",
    "#604e97",
    "#8db600",
    "#c2b280",
]
DASHED_FROM = 7
TICKS = 4


def nice_step(top: Fraction) -> Fraction:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten, in percent) so ``TICKS`` steps reach ``top``."""
    raw = top * 100 / TICKS
    magnitude = Fraction(1)
    while magnitude * 10 <= raw:
        magnitude *= 10
    while magnitude > raw:
        magnitude /= 10
    for factor in (1, 2, Fraction(5, 2), 5, 10):
        if magnitude * factor >= raw:
            return magnitude * factor / 100
    return magnitude * 10 / 100


def _tick_label(value: Fraction) -> str:
    percent = Decimal(value.numerator * 100) / Decimal(value.denominator)
    text = f"{percent.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _esc(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def line_chart(dates, series, target: Fraction | None = None, width=760, height=320, title="") -> str:
    """An SVG of one line per series (values are Fractions or None) over ``dates``, in percent."""
    left, right, top, bottom = 56, 170, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s["values"] if v is not None]
    if target is not None:
        values.append(target)
    if not dates or not values:
        return (
            f'<svg class="chart" viewBox="0 0 {width} 60" role="img" aria-label="{_esc(title)}">'
            f'<text x="10" y="35" fill="#6b7280">暂无数据</text></svg>'
        )
    step_value = nice_step(max(values) or Fraction(1, 100))
    top_value = step_value * TICKS
    n = len(dates)

    def x(i):
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v):
        return top + plot_h - float(v / top_value) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11">'
    ]
    if title:
        parts.append(f'<text x="{left}" y="16" font-size="13" font-weight="bold" fill="#1f2328">{_esc(title)}</text>')
    for k in range(TICKS + 1):
        v = step_value * k
        yy = y(v)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + plot_w}" y2="{yy:.1f}" stroke="#e5e7eb"/>')
        label = _tick_label(v)
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" fill="#6b7280">{label}</text>')
    step = max(1, n // 8)
    for i, day in enumerate(dates):
        if i % step == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#6b7280">'
                f"{day.month}月{day.day}日</text>"
            )
    if target is not None:
        ty = y(target)
        parts.append(
            f'<line x1="{left}" y1="{ty:.1f}" x2="{left + plot_w}" y2="{ty:.1f}" stroke="#c8161d" '
            f'stroke-dasharray="6 4"/>'
            f'<text x="{left + 4}" y="{ty - 4:.1f}" fill="#c8161d">目标 '
            f"{format_rate(target.numerator, target.denominator)}</text>"
        )
    shown = 0
    for idx, s in enumerate(series):
        color = PALETTE[idx % len(PALETTE)]
        points = [(x(i), y(v)) for i, v in enumerate(s["values"]) if v is not None]
        if not points:
            continue
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        dash = ' stroke-dasharray="7 3"' if idx >= DASHED_FROM else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for px, py in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{color}"/>')
        last = [v for v in s["values"] if v is not None][-1]
        ly = top + 14 * shown + 6
        shown += 1
        if target is None or len(series) > 1:
            parts.append(
                f'<rect x="{left + plot_w + 8}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
                f'<text x="{left + plot_w + 22}" y="{ly + 1}" fill="#1f2328">{_esc(s["name"])} '
                f"{format_rate(last.numerator, last.denominator)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
