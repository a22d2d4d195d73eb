"""The notifications queue's one task (thin: the work is notifications/services.py)."""

from django.conf import settings

from orders.pipeline import RetryPolicy, StepTask, beat_task, step_task
from ordersite.queues import Queue

from . import services


@step_task(
    name="notifications.send_notification",
    queue=Queue.NOTIFICATIONS,
    retry=RetryPolicy(max_retries=settings.NOTIFICATION_MAX_RETRIES),
    bind=True,
)
def send_notification(self: StepTask, notification_id: str, order_id: str, seq: str) -> str:
    """Mail the customer about one event, once. Its first argument is the notification's own id,
    not the order's: a dead letter of it names no order, so parking, replaying or discarding it
    never flags, resumes or fails the order (orders/deadletter_hooks.py) — a mail is not the
    order."""
    return services.send_notification(
        notification_id=notification_id, order_id=order_id, seq=int(seq)
    )


@beat_task(name="notifications.resend_lost_notifications", queue=Queue.NOTIFICATIONS)
def resend_lost_notifications() -> int:
    """Beat, every PIPELINE_RECONCILE_EVERY_SECONDS: mails whose task never reached the broker."""
    return services.resend_lost_notifications()
