"""Thin Celery tasks for payments: each runs the service of the same name."""

from orders.pipeline import FORWARD_RETRY, REFUND_RETRY, SETTLE_RETRY, step_task
from ordersite.queues import Queue

from . import services, services_refunds


@step_task(name="payments.authorize_payment", queue=Queue.PAYMENTS, retry=FORWARD_RETRY)
def authorize_payment(order_id: str) -> str:
    return services.authorize_payment(order_id=order_id)


# On the orders queue: the last step of the chain completes the order.
@step_task(name="payments.capture_payment", queue=Queue.ORDERS, retry=SETTLE_RETRY)
def capture_payment(order_id: str) -> str:
    return services.capture_payment(order_id=order_id)


@step_task(name="payments.void_payment", queue=Queue.PAYMENTS, retry=SETTLE_RETRY)
def void_payment(order_id: str) -> str:
    return services.void_payment(order_id=order_id)


@step_task(name="payments.refund_payment", queue=Queue.PAYMENTS, retry=REFUND_RETRY)
def refund_payment(order_id: str, refund_id: str) -> str:
    return services_refunds.refund_payment(order_id=order_id, refund_id=refund_id)


@step_task(name="payments.abandon_refund", queue=Queue.PAYMENTS, retry=FORWARD_RETRY)
def abandon_refund(order_id: str, refund_task: str, target_id: str) -> str:
    return services_refunds.abandon_refund(
        order_id=order_id, refund_task=refund_task, target_id=target_id
    )


@step_task(name="payments.refund_return", queue=Queue.PAYMENTS, retry=REFUND_RETRY)
def refund_return(order_id: str, return_id: str) -> str:
    return services_refunds.refund_return(order_id=order_id, return_id=return_id)
