"""Money movements of an order: authorize, capture, void. Each gateway call happens before the
transaction that records it, with the step's idempotency key, so a retried step never charges
twice and no transaction is held across the network."""

import logging
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Q

from orders import selectors as order_selectors
from orders import services as order_services
from orders.pipeline import AUTHORIZE, CAPTURE, compensate_on_commit, step_key
from orders.states import COMPENSABLE, EventKind, OrderStatus
from ordersite.db import CompiledUpdate, guarded_update, insert_or_get

from .exceptions import CaptureRefusedError, PaymentNotCapturableError
from .gateways import get_payment_gateway
from .models import Payment, PaymentStatus
from .selectors import payment_for_order

if TYPE_CHECKING:
    from orders.models import Order

    from .gateways import PaymentResult

logger = logging.getLogger(__name__)


def authorize_payment(*, order_id: str) -> str:
    """Pipeline step: hold the order total on the customer's card.

    Idempotent: an order past payment is skipped, and the gateway key makes a repeated
    authorization return the first one. If the order was cancelled (or failed) while the gateway
    answered, the fresh authorization is recorded and voided at once; if another copy of the step
    moved it on meanwhile, this copy does nothing.
    """
    order = order_selectors.order_for_step(order_id=order_id)
    if order.status == OrderStatus.PENDING:
        with transaction.atomic(durable=True):
            order_services.transition_order(
                order, OrderStatus.PAYMENT_PROCESSING, kind=EventKind.PAYMENT_STARTED
            )
    elif order.status != OrderStatus.PAYMENT_PROCESSING and not _outcome_unknown(order):
        return f"skipped: order is {order.status}"

    gateway = get_payment_gateway()
    key = step_key(order_id, AUTHORIZE)
    result = gateway.authorize(
        amount_cents=order.total_cents,
        currency=order.currency,
        token=order.payment_token,
        idempotency_key=key,
    )
    payment = {
        "amount_cents": order.total_cents if result.approved else 0,
        "currency": order.currency,
        "status": PaymentStatus.AUTHORIZED if result.approved else PaymentStatus.FAILED,
        "gateway": gateway.name,
        "gateway_reference": result.reference,
        "idempotency_key": key,
        "failure_code": result.decline_code,
    }
    return order_services.record_against_read(
        order, lambda current: _record_authorization(current, payment, result)
    )


def _record_authorization(
    order: "Order", payment_row: dict[str, Any], result: "PaymentResult"
) -> str:
    """One transaction: the gateway's answer as the order's payment, and the order moved by it;
    or, for an order cancelled (or given up) meanwhile, the payment recorded and compensated."""
    order_id = str(order.public_id)
    with transaction.atomic(durable=True):
        payment, created = insert_or_get(Payment, order=order, defaults=payment_row)
        if order.status in COMPENSABLE:
            # Cancelled (or given up) meanwhile: whatever was authorized goes back. The payment
            # row is in the timeline like any other (the event log rebuilds it, orders/replay.py).
            if created:
                _record_late_outcome(order, payment)
            compensate_on_commit(order_id=order_id)
            return f"authorized after {order.status}; compensating"
        if order.status != OrderStatus.PAYMENT_PROCESSING:
            # Another copy of this step (a redelivery, a re-send, a replay) got the same answer
            # first and moved the order on: nothing is ours to record or undo.
            return f"skipped: order is {order.status} (another copy of the step got there first)"
        if not result.approved:
            order_services.transition_order(
                order,
                OrderStatus.PAYMENT_FAILED,
                kind=EventKind.PAYMENT_FAILED,
                reason=result.message or result.decline_code,
                decline_code=result.decline_code,
            )
            return f"declined: {result.decline_code}"
        order_services.transition_order(
            order,
            OrderStatus.PAID,
            kind=EventKind.PAYMENT_AUTHORIZED,
            amount_cents=payment.amount_cents,
            reference=payment.gateway_reference,
        )
    return "authorized"


def _record_late_outcome(order: "Order", payment: Payment) -> None:
    """The processor's answer for an order that ended while it was asked: recorded as an event
    that moves no status (the void that follows has its own)."""
    if payment.status == PaymentStatus.AUTHORIZED:
        order_services.record_event(
            order,
            EventKind.PAYMENT_AUTHORIZED,
            amount_cents=payment.amount_cents,
            reference=payment.gateway_reference,
        )
    else:
        order_services.record_event(
            order, EventKind.PAYMENT_FAILED, decline_code=payment.failure_code
        )


def _outcome_unknown(order: "Order") -> bool:
    """Cancelled while an authorization was on the wire (it may have timed out after the
    processor took it): asking again with the same key learns the outcome without a second
    charge, and the branch below voids whatever was held."""
    return (
        order.status == OrderStatus.CANCELLED
        and payment_for_order(order_pk=order.pk) is None
        and order_selectors.order_events(order=order)
        .filter(kind=EventKind.PAYMENT_STARTED)
        .exists()
    )


def capture_payment(*, order_id: str) -> str:
    """Pipeline step, after shipping: take the authorized money and complete the order."""
    order = order_selectors.order_for_step(order_id=order_id)
    if order.status != OrderStatus.SHIPPED:
        return f"skipped: order is {order.status}"
    payment = payment_for_order(order_pk=order.pk)
    if payment is None or payment.status not in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED):
        raise PaymentNotCapturableError(
            f"Shipped order {order_id} has no authorization left to capture.",
            order_id=order_id,
            payment_status=payment.status if payment else None,
        )
    if payment.status == PaymentStatus.AUTHORIZED:
        key = step_key(order_id, CAPTURE)
        result = get_payment_gateway().capture(
            reference=payment.gateway_reference,
            amount_cents=payment.amount_cents,
            idempotency_key=key,
        )
        if not result.approved:
            raise CaptureRefusedError(
                f"capture refused for order {order_id}: {result.decline_code}",
                order_id=order_id,
                decline_code=result.decline_code,
            )
    return order_services.record_against_read(
        order, lambda current: _record_capture(current, payment)
    )


# The authorization taken in full: only an authorized payment is captured.
_CAPTURE = CompiledUpdate(
    Payment,
    where=lambda: Q(status=PaymentStatus.AUTHORIZED),
    changes=lambda: {"status": PaymentStatus.CAPTURED, "captured_cents": F("amount_cents")},
)


def _record_capture(order: "Order", payment: Payment) -> str:
    """One transaction: the payment captured and the order completed."""
    order_id = str(order.public_id)
    with transaction.atomic(durable=True):
        if order.status != OrderStatus.SHIPPED:
            # Another copy of this step (a re-send by the reconciler, a redelivery) captured and
            # completed it while this one asked the gateway (same key: one capture there).
            return f"skipped: order is {order.status} (another copy of the step got there first)"
        captured = _CAPTURE(payment.pk)
        if (
            not captured
            and not Payment.objects.filter(pk=payment.pk, status=PaymentStatus.CAPTURED).exists()
        ):
            # Voided between our read and this transaction: roll back, complete nothing.
            raise PaymentNotCapturableError(
                f"The authorization of order {order_id} was released.", order_id=order_id
            )
        order_services.record_event(
            order, EventKind.PAYMENT_CAPTURED, amount_cents=payment.amount_cents
        )
        order_services.transition_order(
            order, OrderStatus.COMPLETED, kind=EventKind.ORDER_COMPLETED
        )
    return "captured"


def void_payment(*, order_id: str) -> str:
    """Compensation: release an authorization that will not be captured. Idempotent: only an
    authorized payment is voided; an out-of-stock order then ends `cancelled`. Acts only on an
    order that will not complete (COMPENSABLE): a copy sent for a live order does nothing, since
    those states never lead back to a capture."""
    order = order_selectors.order_for_step(order_id=order_id)
    if order.status not in COMPENSABLE:
        return f"skipped: order is {order.status}"
    payment = payment_for_order(order_pk=order.pk)
    if payment is not None and payment.status == PaymentStatus.AUTHORIZED:
        get_payment_gateway().void(
            reference=payment.gateway_reference, idempotency_key=step_key(order_id, "void")
        )
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        voided = payment is not None and guarded_update(
            Payment,
            payment.pk,
            when=Q(status=PaymentStatus.AUTHORIZED),
            status=PaymentStatus.VOIDED,
            voided_cents=F("amount_cents"),
        )
        if voided and payment is not None:
            order_services.record_event(
                order, EventKind.PAYMENT_VOIDED, amount_cents=payment.amount_cents
            )
        if order.status == OrderStatus.OUT_OF_STOCK:
            order_services.transition_order(
                order, OrderStatus.CANCELLED, kind=EventKind.ORDER_CANCELLED, reason="Out of stock."
            )
    return "voided" if voided else "nothing to void"
