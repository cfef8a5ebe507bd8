"""How a rate is rounded and shown, from two integers: the arithmetic every figure shares.

A rate is kept as (numerator, denominator) or an exact ``Fraction``; it becomes a number only for display,
rounded half up to two decimals of a percent (hundredths of a percent, "basis points"). No float ever
decides or displays a rate. A missing or zero denominator is ``None``, shown as "—", sorted last.
``outreach.dashboards.metrics`` defines the figures themselves on top of this.
"""

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


def rate_decimal(num: int | None, den: int | None) -> Decimal | None:
    """The displayed rate as a plain decimal fraction (1 ÷ 32 → 0.0313): a spreadsheet's percentage cell."""
    if num is None or not den:
        return None
    return Decimal(rate_basis_points(num, den)) / Decimal(10000)


def percent_target(value) -> Fraction | None:
    """A campaign target typed in percent (``Decimal("30.00")``) as an exact fraction (3/10)."""
    if value is None:
        return None
    return Fraction(Decimal(value)) / 100


def format_rate(num: int | None, den: int | None) -> str:
    if num is None or not den:
        return DASH
    bp = rate_basis_points(num, den)
    return f"{bp // 100}.{bp % 100:02d}%"


def sort_key(value, descending: bool = True):
    """A key that puts ``None`` last whichever way the list is sorted."""
    if value is None:
        return (1, 0)
    return (0, -value if descending else value)
