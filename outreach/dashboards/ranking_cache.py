"""Rankings a process keeps while the tables they are computed from are unchanged (PostgreSQL).

``dashboards_figures_version`` is a sequence that a statement-level trigger on every source table moves on each
write (dashboards migration 0008): the summary tables, the 通报 reports, the campaigns and their counties, the
places, the party organizations and the roster corrections. A ranking is kept under the number read before it was
computed, so the next request after any write computes it again. Two more bounds:

- a writer's statement moves the number before its transaction commits, so a ranking read in between would be
  kept under the new number with the old figures: the summary refresh moves it once more after commit, and no
  entry outlives ``DASHBOARD_RANKING_CACHE_SECONDS`` (never more than ``DASHBOARD_REFRESH_GRACE_SECONDS``);
- with a read replica (``DATABASE_REPLICA_URL``) nothing is kept: the number is the primary's, the figures would
  be the replica's, which may not have the write yet (and a sequence reaches a replica only every 32 moves);
- the kept ranking holds every unit of one level under one place, whoever asked: the view decides who may open
  the place (before asking) and which rows link where (on its own copy of the rows), never the ranking.

The grid level reads households, assignments and visits directly and is never kept.
"""

import dataclasses
import threading
from collections import OrderedDict
from time import monotonic

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from outreach.lib.replica import replica_configured

SEQUENCE = "dashboards_figures_version"
MAX_ENTRIES = 256
UNCACHED_LEVELS = frozenset({"grid"})

_lock = threading.Lock()
_entries: OrderedDict = OrderedDict()


def enabled() -> bool:
    return (
        settings.DASHBOARD_RANKING_CACHE_SECONDS > 0
        and connections[DEFAULT_DB_ALIAS].vendor == "postgresql"
        and not replica_configured()
    )


def version() -> int | None:
    """The current number (read on the primary, where the writes land), or None when nothing is kept."""
    if not enabled():
        return None
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(f"SELECT last_value FROM {SEQUENCE}")
        return cursor.fetchone()[0]


def changed() -> None:
    """Move the number (after a commit: see the module's note), so that nothing kept before is read again."""
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(f"SELECT nextval('{SEQUENCE}')")


def kept(key: tuple, number: int | None, compute):
    """``compute()``, or what it returned for ``key`` under the same ``number`` within the time allowed."""
    if number is None:
        return compute()
    now = monotonic()
    with _lock:
        entry = _entries.get(key)
        if entry is not None and entry[0] == number and entry[1] > now:
            _entries.move_to_end(key)
            return entry[2]
    value = compute()
    with _lock:
        _entries[key] = (number, now + settings.DASHBOARD_RANKING_CACHE_SECONDS, value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()


def ranking_copy(result, parent):
    """A kept ranking with rows of its own, which the page may annotate (links, 督办) without touching the kept
    one, and the page's own ``parent``."""
    return dataclasses.replace(result, parent=parent, rows=[dict(row) for row in result.rows])
