"""签发 pushes the bulletin's summary to the groups of its scope: dashboards sends a signal, never imports us."""

import logging

from django.db import transaction
from django.dispatch import receiver

from outreach.dashboards.bulletins import bulletin_issued

logger = logging.getLogger(__name__)


@receiver(bulletin_issued, dispatch_uid="notify_bulletin_issued")
def push_issued_bulletin(sender, bulletin, **kwargs):
    # After the bulletin commits, and in a callback that cannot fail it: 签发 never waits for a group.
    transaction.on_commit(lambda: push_bulletin(bulletin.pk), robust=True)


def push_bulletin(bulletin_pk: int) -> int:
    """Queue the summary of bulletin ``bulletin_pk`` for every enabled robot of its scope; how many."""
    from outreach.dashboards.models import Bulletin
    from outreach.notify.messages import bulletin_text
    from outreach.notify.models import PushMessage
    from outreach.notify.services import queue_message, robots_for

    try:
        bulletin = Bulletin.objects.select_related("parent_county").get(pk=bulletin_pk)
        robots = robots_for(bulletin.parent_county)
        if not robots:
            return 0
        title, text = bulletin_text(bulletin)
        with transaction.atomic():
            for robot in robots:
                queue_message(robot, PushMessage.Topic.BULLETIN, title, text, bulletin=bulletin)
        return len(robots)
    except Exception:
        logger.exception("通报 %s 的群推送未能排队", bulletin_pk)
        return 0
