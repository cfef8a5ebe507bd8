"""Pushing to the work groups: a message per robot, delivered in the background, retried with backoff.

``queue_message`` stores the message and, when the transaction commits, queues ``tasks.deliver_push``; the
caller (签发, ``push_chase``) never waits for the network and never fails because of it. ``deliver`` makes
one attempt, logs it (``PushAttempt``), and on failure queues the next one ``PUSH_RETRY_SECONDS`` × 2ⁿ⁻¹
later (capped at an hour) until ``PUSH_MAX_ATTEMPTS``; then the message is 发送失败 and the log says why.
The database queue (``db_worker``) honours the delay (``run_after``); the in-process queue of a development
run cannot wait, so there the retries follow at once.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from outreach.notify import webhooks
from outreach.notify.models import PushAttempt, PushMessage, WorkGroupRobot

logger = logging.getLogger(__name__)
State = PushMessage.State
MAX_DELAY_SECONDS = 3600


def robots_for(county) -> list[WorkGroupRobot]:
    """The enabled robots of ``county``'s group (the city's when ``county`` is None)."""
    return list(WorkGroupRobot.objects.filter(enabled=True, county=county).order_by("pk"))


def queue_message(robot, topic: str, title: str, text: str, bulletin=None) -> PushMessage:
    """Store a message for ``robot`` and deliver it in the background once the transaction commits."""
    message = PushMessage.objects.create(robot=robot, topic=topic, title=title[:100], text=text, bulletin=bulletin)
    transaction.on_commit(lambda: enqueue(message.pk), robust=True)
    return message


def retry_delay(attempt: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …) before the next."""
    base = getattr(settings, "PUSH_RETRY_SECONDS", 60)
    return min(MAX_DELAY_SECONDS, base * 2 ** (attempt - 1))


def enqueue(message_id: int, delay: int = 0) -> None:
    """Queue the delivery of a message, ``delay`` seconds from now where the queue can wait. Never raises:
    a queue that is down leaves the message 待发送 in the log rather than failing the caller."""
    from outreach.notify.tasks import deliver_push

    task = deliver_push
    try:
        if delay > 0 and task.get_backend().supports_defer:
            task = task.using(run_after=timezone.now() + dt.timedelta(seconds=delay))
        task.enqueue(message_id)
    except Exception:
        logger.exception("推送消息 %s 未能排入后台队列", message_id)


def deliver(message_id: int) -> str:
    """One attempt at delivering a message; the state it is left in."""
    message = PushMessage.objects.select_related("robot").get(pk=message_id)
    if message.state in (State.SENT, State.FAILED):
        return message.state
    robot = message.robot
    number = message.attempts + 1
    give_up = False
    if not robot.enabled:
        answer, give_up = webhooks.Answer(ok=False, error="机器人已停用"), True
    else:
        try:
            webhooks.check_webhook(robot.kind, robot.webhook_url)
        except ValidationError as exc:
            answer, give_up = webhooks.Answer(ok=False, error="；".join(exc.messages)[:300]), True
        else:
            url = webhooks.address(robot.kind, robot.webhook_url, robot.secret)
            answer = webhooks.post(url, webhooks.payload(robot.kind, message.title, message.text))
    max_attempts = getattr(settings, "PUSH_MAX_ATTEMPTS", 5)
    delay = 0
    with transaction.atomic():
        PushAttempt.objects.create(
            message=message,
            number=number,
            ok=answer.ok,
            status_code=answer.status_code,
            errcode=answer.errcode,
            errmsg=answer.errmsg,
            answer=answer.answer,
            error=answer.error,
        )
        message.attempts = number
        message.next_attempt_at = None
        if answer.ok:
            message.state = State.SENT
        elif give_up or number >= max_attempts:
            message.state = State.FAILED
        else:
            delay = retry_delay(number)
            message.state = State.RETRYING
            message.next_attempt_at = timezone.now() + dt.timedelta(seconds=delay)
        message.save(update_fields=["attempts", "state", "next_attempt_at", "updated_at"])
    if message.state == State.RETRYING:
        logger.warning("推送到“%s”第%s次失败（%s），%s 秒后重试", robot.name, number, answer.error, delay)
        enqueue(message.pk, delay)
    elif message.state == State.FAILED:
        logger.error("推送到“%s”失败，已尝试%s次：%s", robot.name, number, answer.error)
    return message.state
