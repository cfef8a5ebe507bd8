"""Queueing a deduplicated background job: one waiting job per kind of work, however many commits ask.

The summary refresh (dashboards) and the integrity check (mobile) work the same way: a write marks what it
touched inside its transaction and, on commit, asks for the job. A job already waiting will read the marks
after this commit, so a burst of visits queues one job, and each later commit costs one query. A job already
running does not count: it may have read the marks before this commit.
"""

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from outreach.lib import batch


def enqueue_unless_waiting(task, has_work, lock_key: int) -> bool:
    """Queue ``task`` if ``has_work()`` and no job of it is waiting to start; whether one was queued.

    When none is waiting, ``has_work`` is asked (an earlier callback of this commit may have taken every mark, as
    the ImmediateBackend does), then the check is repeated and the job queued under a transaction-scoped lock
    (``lock_key``, one per kind of job) on PostgreSQL, so two commits never both queue one.
    """
    # Asked of the primary, which was just written: a lagging replica could answer with older rows.
    waiting = DBTaskResult.objects.using(DEFAULT_DB_ALIAS).filter(
        task_path=task.module_path, status=TaskResultStatus.READY
    )
    if waiting.exists() or not has_work():
        return False
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key])
        if waiting.exists():
            return False
        task.enqueue()
    return True


def mark_new(
    model, keys: list[tuple], key_fields: tuple[str, ...], stamp_field: str = "marked_at", then=None
) -> int | None:
    """Insert the marks ``keys`` (tuples of ``key_fields`` values) into ``model`` in one ``INSERT … ON CONFLICT DO
    NOTHING``, stamped now; return how many were new.

    A mark already there keeps its time, and the writer that made it asked for the job that will take it: a
    caller asks the queue (``enqueue_unless_waiting``) only when this returns more than 0.
    With ``then``, the INSERT may wait for an open ``batch.combined()`` (a visit POST's): ``then(new)`` gets the
    number once it is known, and this returns None.
    """
    if not keys:
        if then is None:
            return 0
        then(0)
        return None
    from django.utils import timezone

    meta = model._meta
    fields = [meta.get_field(name) for name in (*key_fields, stamp_field)]
    stamp = timezone.now()
    params = [
        f.get_db_prep_save(v, connection=connection) for key in keys for f, v in zip(fields, (*key, stamp), strict=True)
    ]
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO NOTHING".format(
        quote(meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join([row] * len(keys)),
        ", ".join(quote(f.column) for f in fields[: len(key_fields)]),
    )
    if then is not None:
        batch.insert(meta.db_table, f"{sql} RETURNING 1", params, connection.alias, then=lambda rows: then(len(rows)))
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)
