"""Thin Celery tasks of the shipping queue: each runs the service of the same name."""

from celery import shared_task
from django.conf import settings

from orders.pipeline import StepTask

from . import services


@shared_task(name="shipping.create_shipment", base=StepTask, bind=True)
def create_shipment(self: StepTask, order_id: str) -> str:
    return services.create_shipment(order_id=order_id, last_attempt=self.last_attempt)


@shared_task(name="shipping.cancel_shipment", base=StepTask)
def cancel_shipment(order_id: str) -> str:
    return services.cancel_shipment(order_id=order_id)


@shared_task(name="shipping.cancel_stray_booking", base=StepTask)
def cancel_stray_booking(order_id: str, carrier: str) -> str:
    return services.cancel_stray_booking(order_id=order_id, carrier=carrier)


@shared_task(name="shipping.retry_pending_shipments")
def retry_pending_shipments() -> int:
    """Beat, every CARRIER_PENDING_RETRY_SECONDS."""
    return services.retry_pending_shipments()


@shared_task(name="shipping.poll_deliveries")
def poll_deliveries() -> int:
    """Beat, every CARRIER_DELIVERY_POLL_SECONDS: deliveries no webhook told us about."""
    return services.poll_deliveries(limit=settings.CARRIER_DELIVERY_POLL_BATCH)
