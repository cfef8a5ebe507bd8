"""Background work of the checks on visits: the integrity check, one django-tasks job run by ``db_worker``
(the same runner, and the same deduplication, as the summary refresh).

A visit's save marks its village and day (``PendingIntegrityCheck``) inside its transaction; on commit
``enqueue_integrity_check`` queues ``check_integrity`` unless one is already waiting, so a burst of visits
queues one job, and the job checks every village-day marked by then. Its flags roll up into
``Visit.integrity``, which marks the villages for the summary refresh in turn.
"""

from django.db import transaction
from django_tasks import task

from outreach.lib.jobs import enqueue_unless_waiting
from outreach.mobile.services import check_pending_integrity, has_pending_checks

# Ahead of the summary refresh (10): the flags it finds are then in the rows the refresh writes.
PRIORITY = 20
# Any constant of our own, apart from the summaries' locks.
_ENQUEUE_LOCK_KEY = 7_202_108_15


@task(priority=PRIORITY)
def check_integrity() -> int:
    """Check the visits of every marked village and day; the number of village-days checked."""
    return check_pending_integrity()


def enqueue_integrity_check() -> bool:
    """Queue ``check_integrity`` if village-days are marked and no job is waiting; whether one was queued."""
    return enqueue_unless_waiting(check_integrity, has_pending_checks, _ENQUEUE_LOCK_KEY)


def check_on_commit() -> None:
    transaction.on_commit(enqueue_integrity_check)
