"""Thin Celery tasks for payments: each runs the service of the same name."""

from celery import shared_task

from orders.pipeline import StepTask

from . import services, services_refunds


@shared_task(name="payments.authorize_payment", base=StepTask)
def authorize_payment(order_id: str) -> str:
    return services.authorize_payment(order_id=order_id)


@shared_task(name="payments.capture_payment", base=StepTask)
def capture_payment(order_id: str) -> str:
    return services.capture_payment(order_id=order_id)


@shared_task(name="payments.void_payment", base=StepTask)
def void_payment(order_id: str) -> str:
    return services.void_payment(order_id=order_id)


@shared_task(name="payments.refund_payment", base=StepTask)
def refund_payment(order_id: str, refund_id: str) -> str:
    return services_refunds.refund_payment(order_id=order_id, refund_id=refund_id)


@shared_task(name="payments.abandon_refund", base=StepTask)
def abandon_refund(order_id: str, refund_task: str, target_id: str) -> str:
    return services_refunds.abandon_refund(order_id=order_id, refund_task=refund_task, target_id=target_id)


@shared_task(name="payments.refund_return", base=StepTask)
def refund_return(order_id: str, return_id: str) -> str:
    return services_refunds.refund_return(order_id=order_id, return_id=return_id)
