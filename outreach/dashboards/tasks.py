"""Background work of the dashboards: the summary refresh, one django-tasks job run by ``db_worker``.

A visit (or an import, a rule change …) marks its villages stale inside its transaction; on commit
``enqueue_refresh`` queues ``refresh_summaries`` unless one is already waiting, so a burst of visits queues
one job, and the job rebuilds every village marked by then. With the ImmediateBackend (development, tests)
the job runs inline on commit, once per transaction however many rows it marked.
"""

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from outreach.dashboards.services import has_pending, refresh_pending

# Ahead of imports and exports in the queue (the database backend runs higher priorities first): a refresh
# takes a fraction of a second, an import of a county's sheet many seconds.
PRIORITY = 10
# Any constant of our own, apart from the summaries' lock: one "is a job waiting?" check at a time.
_ENQUEUE_LOCK_KEY = 7_202_108_14


@task(priority=PRIORITY)
def refresh_summaries() -> int:
    """Rebuild every village and organization marked stale; the number rebuilt."""
    # Wait for a page's refresh in progress, then take what it left: a mark skipped here has no job left.
    return refresh_pending(wait=True)


def refresh_on_commit() -> None:
    """Queue a refresh when the current transaction commits (at once outside a transaction).

    Every mark of a transaction registers this; on commit the first callback queues (or, inline, runs) the
    job and the others stop at a query. (Registering once per transaction would need Django's private
    ``run_on_commit`` list, and ``captureOnCommitCallbacks`` in tests runs only part of it.)"""
    transaction.on_commit(enqueue_refresh)


def enqueue_refresh() -> bool:
    """Queue ``refresh_summaries`` if villages or organizations are marked and no job is waiting to start;
    whether one was queued.

    A job waiting now will read the marks after this commit, so in a burst each later commit costs one query.
    A job already running does not count: it may have read the marks before this commit. When none is
    waiting, the marks are looked at (an earlier callback of this commit may have taken them all, as the
    ImmediateBackend does), then the check is repeated and the job queued under a transaction-scoped lock on
    PostgreSQL, so two commits never both queue one.
    """
    # Asked of the primary, which was just written: a lagging replica could answer with older rows.
    waiting = DBTaskResult.objects.using(DEFAULT_DB_ALIAS).filter(
        task_path=refresh_summaries.module_path, status=TaskResultStatus.READY
    )
    if waiting.exists() or not has_pending():
        return False
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ENQUEUE_LOCK_KEY])
        if waiting.exists():
            return False
        refresh_summaries.enqueue()
    return True
