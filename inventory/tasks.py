"""Thin Celery tasks of the inventory queue: each runs the service of the same name."""

from orders.pipeline import FORWARD_RETRY, SETTLE_RETRY, step_task
from ordersite.queues import Queue

from . import services


@step_task(name="inventory.reserve_stock", queue=Queue.INVENTORY, retry=FORWARD_RETRY)
def reserve_stock(order_id: str) -> str:
    return services.reserve_stock(order_id=order_id)


@step_task(name="inventory.release_stock", queue=Queue.INVENTORY, retry=SETTLE_RETRY)
def release_stock(order_id: str) -> str:
    return services.release_stock(order_id=order_id)
