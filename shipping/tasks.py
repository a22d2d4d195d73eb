"""Thin Celery tasks of the shipping queue: each runs the service of the same name."""

from django.conf import settings

from orders.pipeline import SETTLE_RETRY, RetryPolicy, StepTask, beat_task, step_task
from ordersite.queues import Queue

from . import services, services_delivery


# Gives up on the primary carrier sooner than other steps: the fallback carrier is waiting.
@step_task(
    name="shipping.create_shipment",
    queue=Queue.SHIPPING,
    retry=RetryPolicy(max_retries=settings.PIPELINE_SHIP_MAX_RETRIES),
    bind=True,
)
def create_shipment(self: StepTask, order_id: str) -> str:
    return services.create_shipment(order_id=order_id, last_attempt=self.last_attempt)


@step_task(name="shipping.cancel_shipment", queue=Queue.SHIPPING, retry=SETTLE_RETRY)
def cancel_shipment(order_id: str) -> str:
    return services.cancel_shipment(order_id=order_id)


@step_task(name="shipping.cancel_stray_booking", queue=Queue.SHIPPING, retry=SETTLE_RETRY)
def cancel_stray_booking(order_id: str, carrier: str) -> str:
    return services.cancel_stray_booking(order_id=order_id, carrier=carrier)


@beat_task(name="shipping.retry_pending_shipments", queue=Queue.SHIPPING)
def retry_pending_shipments() -> int:
    """Beat, every CARRIER_PENDING_RETRY_SECONDS."""
    return services.retry_pending_shipments()


@beat_task(name="shipping.poll_deliveries", queue=Queue.SHIPPING)
def poll_deliveries() -> int:
    """Beat, every CARRIER_DELIVERY_POLL_SECONDS: deliveries no webhook told us about."""
    return services_delivery.poll_deliveries(limit=settings.CARRIER_DELIVERY_POLL_BATCH)
