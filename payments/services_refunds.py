"""Refunds: money going back to the card after the sale, through the processor.

Asking for a refund reserves its amount on the payment first (a compare-and-swap on
`refunding_cents`, guarded by what is captured), so two refunds asked at once never exceed the
capture; the processor is called afterwards, by a task, with the refund's own idempotency key, and
the outcome is recorded in one transaction with the order's refunded amount and status.
"""

import logging
import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Case, F, Q, Value, When

from orders import selectors as order_selectors
from orders import services_returns as return_services
from orders.pipeline import REFUND_PAYMENT, send_on_commit, step_key
from orders.services import record_event
from orders.states import REFUNDABLE, EventKind, ReturnStatus
from orders.steps import REFUND_RETURN
from ordersite.db import cas_update, guarded_update, require_transaction
from ordersite.errors import ConflictError

from .exceptions import NotRefundableError, RefundExceedsCapturedError, RefundRefusedError
from .gateways import get_payment_gateway
from .models import Payment, PaymentStatus, Refund, RefundStatus
from .selectors import payment_for_order

if TYPE_CHECKING:
    from orders.models import Order

logger = logging.getLogger(__name__)

HOLDS_CAPTURED = (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)
# A refund's outcome is recorded once: only while it is still pending.
STILL_PENDING = Q(status=RefundStatus.PENDING)


def _reserve_refund(
    order: "Order",
    *,
    amount_cents: int,
    key: str,
    actor: str,
    reason: str,
    return_id: int | None = None,
) -> Refund:
    """Promise `amount_cents` of the order's captured money to a new pending refund. Call inside a
    transaction. The guard is in the UPDATE itself: captured >= already promised + this."""
    require_transaction("_reserve_refund")
    payment = payment_for_order(order_pk=order.pk)
    if order.status not in REFUNDABLE or payment is None or payment.status not in HOLDS_CAPTURED:
        raise NotRefundableError(
            f"Order {order.public_id} is {order.status}; it keeps no captured money to refund.",
            order_id=str(order.public_id),
            current_status=order.status,
        )
    try:
        cas_update(
            Payment,
            payment.pk,
            when=Q(
                status__in=HOLDS_CAPTURED, captured_cents__gte=F("refunding_cents") + amount_cents
            ),
            refunding_cents=F("refunding_cents") + amount_cents,
        )
    except ConflictError as exc:
        captured, refunding = Payment.objects.filter(pk=payment.pk).values_list(
            "captured_cents", "refunding_cents"
        )[0]
        raise RefundExceedsCapturedError(
            f"Only {captured - refunding} cents of order {order.public_id} can still be refunded.",
            order_id=str(order.public_id),
            requested_cents=amount_cents,
            refundable_cents=captured - refunding,
        ) from exc
    refund = Refund.objects.create(
        payment=payment,
        return_request_id=return_id,
        amount_cents=amount_cents,
        reason=reason[:500],
        requested_by=actor,
        idempotency_key=key,
    )
    of_return: dict[str, Any] = (
        {"return_id": str(order_selectors.return_public_id(pk=return_id))} if return_id else {}
    )
    record_event(
        order,
        EventKind.REFUND_REQUESTED,
        actor=actor,
        refund_id=str(refund.public_id),
        amount_cents=amount_cents,
        reason=reason[:500],
        **of_return,
    )
    return refund


def request_refund(
    *, order_id: str, amount_cents: int, actor: str, reason: str, request_key: str | None = None
) -> tuple[Refund, bool]:
    """Staff give money back without a return (goodwill). Returns (refund, created): the same
    `request_key` (an Idempotency-Key) with the same amount gives the first refund back. Two
    staff asking at once for more than is left together: one wins, the other gets a 409
    `refund_exceeds_captured`."""
    key = step_key(order_id, f"refund-{request_key or uuid.uuid4()}")
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.amount_cents == amount_cents:
        return existing, False
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        refund = _reserve_refund(
            order, amount_cents=amount_cents, key=key, actor=actor, reason=reason
        )
        send_on_commit(REFUND_PAYMENT, order_id, str(refund.public_id))
    return refund, True


def refund_return(*, order_id: str, return_id: str) -> str:
    """Step after a return was received: its refund is reserved once (the return is unique on
    the refund) and then paid out, in this same run."""
    ret = order_selectors.return_for_step(return_id=return_id)
    if ret.status != ReturnStatus.RECEIVED:
        return f"skipped: return is {ret.status}"
    refund = Refund.objects.filter(return_request_id=ret.pk).first()
    if refund is None:
        with transaction.atomic(durable=True):
            order = order_selectors.order_for_step(order_id=order_id)
            refund = _reserve_refund(
                order,
                amount_cents=ret.amount_cents,
                key=step_key(order_id, f"refund-return-{return_id}"),
                actor="returns",
                reason=f"Return {return_id}",
                return_id=ret.pk,
            )
    return refund_payment(order_id=order_id, refund_id=str(refund.public_id))


def refund_payment(*, order_id: str, refund_id: str) -> str:
    """Pay a pending refund out at the processor, then record it with the order's refunded
    amount and status. Idempotent: the processor replays its answer to the refund's key, and only
    a pending refund is recorded (a concurrent copy waits on the row, then finds it done). A
    refusal raises RefundRefusedError: retried, then dead-lettered, the cents still promised."""
    refund = Refund.objects.select_related("payment").get(public_id=refund_id)
    if refund.status != RefundStatus.PENDING:
        return f"skipped: refund is {refund.status}"
    amount = refund.amount_cents
    result = get_payment_gateway().refund(
        reference=refund.payment.gateway_reference,
        amount_cents=amount,
        idempotency_key=refund.idempotency_key,
    )
    if not result.approved:
        with transaction.atomic(durable=True):  # staff see why on the refund, while it retries
            guarded_update(Refund, refund.pk, when=STILL_PENDING, failure_code=result.decline_code)
        raise RefundRefusedError(
            f"The processor refused refund {refund_id} of {amount} cents: {result.decline_code}.",
            decline_code=result.decline_code,
        )
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        if not guarded_update(
            Refund,
            refund.pk,
            when=STILL_PENDING,
            status=RefundStatus.SUCCEEDED,
            gateway_reference=result.reference,
        ):
            return "skipped: another copy recorded it"
        (kept,) = cas_update(
            Payment,
            refund.payment_id,
            when=Q(refunding_cents__gte=amount, captured_cents__gte=amount),
            returning=("captured_cents",),
            refunding_cents=F("refunding_cents") - amount,
            captured_cents=F("captured_cents") - amount,
            refunded_cents=F("refunded_cents") + amount,
            status=Case(
                When(captured_cents=amount, then=Value(PaymentStatus.REFUNDED)),
                default=Value(PaymentStatus.PARTIALLY_REFUNDED),
            ),
        )
        extra = {}
        if refund.return_request_id:
            ret = order_selectors.return_for_step_pk(pk=refund.return_request_id)
            return_services.mark_return_refunded(ret)
            extra["return_id"] = str(ret.public_id)
        return_services.record_refund(
            order,
            amount_cents=amount,
            kept_cents=kept,
            refund_id=refund_id,
            reference=result.reference,
            **extra,
        )
    logger.info("refund %s paid", refund_id, extra={"amount_cents": amount})
    return "refunded"


def abandon_refund(*, order_id: str, refund_task: str, target_id: str) -> str:
    """Staff discarded a refund step's dead letter: that refund is given up (`abandoned`), its
    cents no longer promised, and the customer's timeline says so. `target_id` is what the step
    was sent with: a refund's id (refund_payment) or a return's (refund_return). Idempotent."""
    refunds = Refund.objects.filter(status=RefundStatus.PENDING, payment__order__public_id=order_id)
    if refund_task == REFUND_RETURN:
        refund = refunds.filter(return_request__public_id=target_id).first()
    else:
        refund = refunds.filter(public_id=target_id).first()
    if refund is None:
        return "nothing pending"
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        if not guarded_update(Refund, refund.pk, when=STILL_PENDING, status=RefundStatus.ABANDONED):
            return "nothing pending"
        amount = refund.amount_cents
        cas_update(
            Payment,
            refund.payment_id,
            when=Q(refunding_cents__gte=amount),
            refunding_cents=F("refunding_cents") - amount,
        )
        record_event(
            order, EventKind.REFUND_ABANDONED, refund_id=str(refund.public_id), amount_cents=amount
        )
    return "abandoned"
