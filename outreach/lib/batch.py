"""The INSERTs that follow one write (its history row, its many-to-many rows, the marks its receivers add) sent to
PostgreSQL as one statement instead of one round trip each.

Inside ``combined()`` each ``insert()`` is held; when the block ends, or just before anything else is executed on
the connection (so no statement of the block can miss a held row), the held INSERTs go as one
``WITH q0 AS (INSERT … RETURNING …), q1 AS (…) SELECT ARRAY(SELECT * FROM q0), ARRAY(SELECT * FROM q1), …``.
Each ``then`` gets the values its own RETURNING gave, as if it had run alone, once they are known. A second
INSERT into a table already held flushes the held ones first (one statement sees one snapshot). Outside the block,
on a database without data-modifying WITH (SQLite), or with ``using`` another database than the block's,
``insert()`` runs at once. The phone's visit POST sent five round trips for what is now one.
"""

import contextlib
import contextvars
from collections.abc import Callable

from django.db import connections, transaction

_held: contextvars.ContextVar = contextvars.ContextVar("outreach_batch", default=None)


class _Batch:
    def __init__(self, using: str):
        self.using = using
        self.parts: list[tuple[str, str, list, Callable | None]] = []

    def add(self, table: str, sql: str, params: list, then) -> None:
        if any(held == table for held, _, _, _ in self.parts):
            self.flush()
        self.parts.append((table, sql, list(params), then))

    def flush(self) -> None:
        parts, self.parts = self.parts, []
        if not parts:
            return
        if len(parts) == 1:
            _, sql, params, then = parts[0]
            results = [_run(self.using, sql, params)]
        else:
            names = [f"q{i}" for i in range(len(parts))]
            sql = "WITH {} SELECT {}".format(
                ", ".join(f"{name} AS ({part[1]})" for name, part in zip(names, parts, strict=True)),
                ", ".join(f"ARRAY(SELECT * FROM {name})" for name in names),
            )
            params = [value for part in parts for value in part[2]]
            with transaction.mark_for_rollback_on_error(self.using), connections[self.using].cursor() as cursor:
                cursor.execute(sql, params)
                results = [list(values) for values in cursor.fetchone()]
        for (_, _, _, then), values in zip(parts, results, strict=True):
            if then is not None:
                then(values)

    def before_execute(self, execute, sql, params, many, context):
        # Anything else sent on the connection while rows are held would not see them: send those first (the
        # flush empties ``parts`` before its own statement comes through here).
        if self.parts:
            self.flush()
        return execute(sql, params, many, context)


def _run(using: str, sql: str, params: list) -> list:
    with transaction.mark_for_rollback_on_error(using), connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def insert(table: str, sql: str, params, using: str, then: Callable[[list], None] | None = None) -> None:
    """Run ``sql``, an ``INSERT`` into ``table`` ending in ``RETURNING`` one column, now or with the open batch;
    ``then(values)`` gets the returned values (how many rows it inserted is their number)."""
    batch = _held.get()
    if batch is None or batch.using != using:
        values = _run(using, sql, list(params))
        if then is not None:
            then(values)
        return
    batch.add(table, sql, params, then)


@contextlib.contextmanager
def combined(using: str):
    """Hold the ``insert()`` calls made inside the block and send them as one statement (see the module)."""
    if _held.get() is not None or connections[using].vendor != "postgresql":
        yield  # nested (the outer block sends), or no data-modifying WITH: each insert() runs at once
        return
    batch = _Batch(using)
    token = _held.set(batch)
    try:
        with connections[using].execute_wrapper(batch.before_execute):
            yield
            batch.flush()
    finally:
        _held.reset(token)
