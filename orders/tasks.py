"""Thin Celery tasks of the orders queue (the pipeline's own steps live in their apps)."""

from datetime import timedelta

from django.conf import settings

from ordersite.queues import Queue

from . import recovery, services
from .pipeline import beat_task


@beat_task(name="orders.purge_idempotency_keys", queue=Queue.ORDERS)
def purge_idempotency_keys() -> int:
    """Run by celery beat (CELERY_BEAT_SCHEDULE): forget keys past IDEMPOTENCY_KEY_TTL_HOURS."""
    return services.purge_idempotency_keys(
        older_than=timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    )


@beat_task(name="orders.resend_stuck_orders", queue=Queue.ORDERS)
def resend_stuck_orders() -> int:
    """Beat, every PIPELINE_RECONCILE_EVERY_SECONDS: stuck steps, lost compensations and refunds."""
    return (
        recovery.resend_stuck_orders()
        + recovery.resend_lost_compensations()
        + recovery.resend_lost_refunds()
    )
