"""Thin Celery tasks of the orders queue (the pipeline's own steps live in their apps)."""

from celery import shared_task

from . import services_recovery


@shared_task(name="orders.resend_stuck_orders")
def resend_stuck_orders() -> int:
    """Beat, every PIPELINE_RECONCILE_EVERY_SECONDS."""
    return services_recovery.resend_stuck_orders()
