"""Background work of the dashboards: the summary refresh, one django-tasks job run by ``db_worker``.

A visit (or an import, a rule change …) marks its villages stale inside its transaction; on commit
``enqueue_refresh`` queues ``refresh_summaries`` unless one is already waiting, so a burst of visits queues
one job, and the job rebuilds every village marked by then. With the ImmediateBackend (development, tests)
the job runs inline on commit, once per transaction however many rows it marked.
"""

from django.db import transaction
from django_tasks import task

from outreach.dashboards.services import has_pending, refresh_pending
from outreach.lib.jobs import enqueue_unless_waiting

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
    whether one was queued (``lib.jobs.enqueue_unless_waiting``: a burst of commits queues one job)."""
    return enqueue_unless_waiting(refresh_summaries, has_pending, _ENQUEUE_LOCK_KEY)
