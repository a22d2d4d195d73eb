"""Thin Celery tasks of the inventory queue: each runs the service of the same name."""

from celery import shared_task

from orders.pipeline import StepTask

from . import services


@shared_task(name="inventory.reserve_stock", base=StepTask)
def reserve_stock(order_id: str) -> str:
    return services.reserve_stock(order_id=order_id)


@shared_task(name="inventory.release_stock", base=StepTask)
def release_stock(order_id: str) -> str:
    return services.release_stock(order_id=order_id)
