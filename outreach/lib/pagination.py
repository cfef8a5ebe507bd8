"""A paginator for lists of a million rows: the exact count while it is cheap, PostgreSQL's estimate (shown as 约) when not.

Django's admin counts every list it pages (``SELECT COUNT(*)`` over the filtered rows) before it fetches the
50 it shows: over a city's million households that count costs more than the rest of the page. Here a list
is counted exactly up to ``EXACT_UP_TO`` rows (``COUNT(*)`` over a ``LIMIT``, so at most that many rows are
read); beyond that the count is the planner's estimate for the same query (``EXPLAIN``, from the table
statistics ``ANALYZE`` keeps), rounded and marked ``estimated`` so the page says 约. The estimate is asked first:
when it is more than ``TRUST_ESTIMATE_ABOVE`` times ``EXACT_UP_TO`` the list is not counted at all. Such a
capped count is not only wasted (it would stop at the cap) but can be slow: the planner, expecting to stop
early, reads in an order where a county's rows may all come last (a county's 包联关系 took 0.7 s this way).
Other databases (SQLite in development) always count exactly.
"""

import json
import math

from django.core.paginator import InvalidPage, Paginator
from django.db import connections
from django.utils.functional import cached_property

#: Lists up to this many rows are counted exactly; longer ones are estimated.
EXACT_UP_TO = 10_000
#: A list the planner expects to hold more than this many times EXACT_UP_TO rows is not counted.
TRUST_ESTIMATE_ABOVE = 2


def round_estimate(value: float) -> int:
    """An estimate to three significant figures (1,000,327 → 1,000,000; 153,421 → 153,000)."""
    value = int(value)
    if value < 1000:
        return value
    step = 10 ** (int(math.log10(value)) - 2)
    return round(value / step) * step


def planner_rows(queryset) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` returns (the top plan node's "Plan Rows"), or None."""
    query = queryset.order_by().values("pk")
    sql, params = query.query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str | bytes):
        plan = json.loads(plan)
    try:
        return int(plan[0]["Plan"]["Plan Rows"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


class EstimatedCountPaginator(Paginator):
    """``count`` is exact up to ``EXACT_UP_TO`` rows, else PostgreSQL's estimate with ``estimated = True``.

    With an estimated count a page number past the estimate is still served (its rows, or none), so the
    last pages stay reachable when the estimate is low.
    """

    exact_up_to = EXACT_UP_TO
    trust_estimate_above = TRUST_ESTIMATE_ABOVE

    @cached_property
    def count(self) -> int:
        self.estimated = False
        queryset = self.object_list
        if not hasattr(queryset, "query") or connections[queryset.db].vendor != "postgresql":
            return super().count
        query = queryset.query
        estimate = planner_rows(queryset)
        filtered = query.where or query.distinct or query.combinator or query.group_by is not None
        if filtered and (estimate is None or estimate <= self.exact_up_to * self.trust_estimate_above):
            # Counted exactly as far as EXACT_UP_TO, reading no more rows than that.
            capped = queryset.order_by()[: self.exact_up_to + 1].count()
            if capped <= self.exact_up_to:
                return capped
        if estimate is None or estimate <= self.exact_up_to:
            if not query.where:
                return super().count  # a small table: counting it is cheap
            estimate = self.exact_up_to + 1  # more than EXACT_UP_TO were found, whatever the planner says
        self.estimated = True
        return max(round_estimate(estimate), self.exact_up_to + 1)

    estimated = False

    def validate_number(self, number):
        if not self.count or not self.estimated:
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise InvalidPage("页码必须是整数") from exc
        if number < 1:
            raise InvalidPage("页码必须大于 0")
        return number

    def page(self, number):
        number = self.validate_number(number)
        if not self.estimated:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)
