"""Bulk SQL for imports: fresh primary keys reserved in the transaction, rows sent by COPY or executemany."""

from itertools import chain, islice

from django.db import connection

BATCH = 2000


def chunks(seq, size=BATCH):
    """Lists of ``size`` items of ``seq`` (any iterable, read lazily)."""
    items = iter(seq)
    while chunk := list(islice(items, size)):
        yield chunk


def reserve_ids(model, count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``, taken inside the import's transaction.

    Inserting with known keys lets one ``executemany`` write 100,000 rows and still link them (households to
    their 包联) without reading the keys back. PostgreSQL hands them out from the table's sequence; SQLite's
    writer lock (the transaction is IMMEDIATE) makes max+1 safe.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        quoted = connection.ops.quote_name(table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")  # noqa: S608 - table name from our model
        start = cursor.fetchone()[0]
        try:
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            start = max(start, row[0] if row else 0)
        except Exception:  # noqa: BLE001 - no sqlite_sequence table before the first AUTOINCREMENT insert
            pass
        return list(range(start + 1, start + 1 + count))


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
    columns = ", ".join(connection.ops.quote_name(opts.get_field(f).column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is several times faster than row inserts; psycopg 3 streams the rows as they come.
            copy_sql = f"COPY {connection.ops.quote_name(opts.db_table)} ({columns}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        for chunk in chunks(rows, 10_000):
            cursor.executemany(sql, chunk)
