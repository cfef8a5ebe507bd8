"""The background delivery of a push message: one django-tasks job per attempt, run by ``db_worker``."""

from django_tasks import task

from outreach.notify.services import deliver


@task()
def deliver_push(message_id: int) -> str:
    """One attempt at delivering message ``message_id`` (the next is queued on failure); its state after."""
    return deliver(message_id)
