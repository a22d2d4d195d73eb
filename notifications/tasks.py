"""The notifications queue's one task (thin: the work is notifications/services.py)."""

from celery import shared_task

from orders.pipeline import StepTask

from . import services


@shared_task(bind=True, base=StepTask, name="notifications.send_notification")
def send_notification(self: StepTask, notification_id: str, order_id: str, seq: str) -> str:
    """Mail the customer about one event, once. Its first argument is the notification's own id,
    not the order's: a dead letter of it names no order, so parking, replaying or discarding it
    never flags, resumes or fails the order (orders/deadletter_hooks.py) — a mail is not the order."""
    return services.send_notification(notification_id=notification_id, order_id=order_id, seq=int(seq))


@shared_task(name="notifications.resend_lost_notifications")
def resend_lost_notifications() -> int:
    """Beat, every PIPELINE_RECONCILE_EVERY_SECONDS: mails whose task never reached the broker."""
    return services.resend_lost_notifications()
