"""A visit arriving (or edited) marks its village and day for the integrity check job."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from outreach.mobile.services import mark_for_integrity_check
from outreach.mobile.tasks import check_on_commit
from outreach.visits.models import Visit


@receiver(post_save, sender=Visit, dispatch_uid="mobile_visit_saved")
def on_visit_saved(sender, instance, raw=False, **kwargs):
    # One INSERT inside the visit's transaction (record_visit sends post_save there, in its batch.combined(),
    # so it goes with the visit's other INSERTs); the check is one job.
    if raw or not instance.village_id or instance.visited_at is None:
        return
    mark_for_integrity_check(instance.village_id, instance.visited_at, then=_ask_if_new)


def _ask_if_new(new: bool) -> None:
    if new:
        check_on_commit()
