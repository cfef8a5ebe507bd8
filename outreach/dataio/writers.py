"""Bulk SQL for imports: fresh primary keys reserved in the transaction, rows sent by COPY or executemany."""

from collections.abc import Sequence
from itertools import chain, islice

from django.db import connection

BATCH = 2000


def chunks(seq, size=BATCH):
    """Lists of ``size`` items of ``seq`` (any iterable, read lazily)."""
    items = iter(seq)
    while chunk := list(islice(items, size)):
        yield chunk


def reserve_ids(model, count: int) -> Sequence[int]:
    """``count`` fresh primary keys for ``model``, taken inside the import's transaction.

    Inserting with known keys lets one ``COPY`` write 100,000 rows and still link them (households to their
    包联) without reading the keys back. PostgreSQL hands them out from the table's sequence, answered as the
    runs of consecutive keys taken (one row unless another writer took keys at the same moment), so 100,000
    keys come back as a ``range``, not as 100,000 rows; SQLite's writer lock (the transaction is IMMEDIATE)
    makes max+1 safe.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT min(id), max(id) FROM ("
                " SELECT id, id - row_number() OVER (ORDER BY id) AS run FROM ("
                "  SELECT nextval(pg_get_serial_sequence(%s, 'id')) AS id FROM generate_series(1, %s)) AS taken"
                ") AS runs GROUP BY run ORDER BY 1",
                [table, count],
            )
            runs = [range(low, high + 1) for low, high in cursor.fetchall()]
            return runs[0] if len(runs) == 1 else [pk for run in runs for pk in run]
        quoted = connection.ops.quote_name(table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")  # noqa: S608 - table name from our model
        start = cursor.fetchone()[0]
        try:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            start = max(start, row[0] if row else 0)
        except Exception:  # noqa: BLE001 - no sqlite_sequence table before the first AUTOINCREMENT insert
            pass
        return range(start + 1, start + 1 + count)


def insert_rows(model, fields: list[str], rows) -> None:
    """INSERT ``rows`` (values in ``fields`` order; the primary key too when it was reserved): COPY on PostgreSQL,
    executemany on SQLite.

    ``rows`` may be a generator: it is read once, as it is sent, so a file's rows are never all built at once.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    rows = chain((first,), rows)
    opts = model._meta
    model_fields = [opts.get_field(f) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model_fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is several times faster than row inserts; psycopg 3 streams the rows as they come. In binary,
            # with each column's type named once, psycopg packs a row in C without asking each value its type
            # (about a sixth of the client's time for text), which leaves the two cores to the server's writes.
            copy_sql = f"COPY {connection.ops.quote_name(opts.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)"
            with cursor.cursor.copy(copy_sql) as copy:
                copy.set_types([copy_type(f) for f in model_fields])
                for row in rows:
                    copy.write_row(row)
            return
        for chunk in chunks(rows, 10_000):
            cursor.executemany(sql, chunk)


def copy_type(field) -> str:
    """The PostgreSQL type name of ``field``'s column as psycopg's binary COPY names it ("varchar(30)" → "varchar")."""
    return field.db_type(connection).split("(", 1)[0].strip()
