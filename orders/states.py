"""OrderStatus and TRANSITIONS: the order state machine, pure Python, no queries."""

from collections.abc import Mapping
from typing import Final

from django.db import models


class OrderStatus(models.TextChoices):
    PENDING = "pending"
    PAYMENT_PROCESSING = "payment_processing"
    PAID = "paid"
    RESERVED = "reserved"
    PENDING_SHIPMENT = "pending_shipment"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    # After the parcel leaves (issue 18): delivery, then the money going back.
    DELIVERED = "delivered"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    PAYMENT_FAILED = "payment_failed"
    OUT_OF_STOCK = "out_of_stock"
    CANCELLED = "cancelled"
    FAILED = "failed"


S = OrderStatus
TRANSITIONS: Final[Mapping[OrderStatus, frozenset[OrderStatus]]] = {
    S.PENDING: frozenset({S.PAYMENT_PROCESSING, S.CANCELLED, S.FAILED}),
    S.PAYMENT_PROCESSING: frozenset({S.PAID, S.PAYMENT_FAILED, S.CANCELLED, S.FAILED}),
    S.PAID: frozenset({S.RESERVED, S.OUT_OF_STOCK, S.CANCELLED, S.FAILED}),
    S.RESERVED: frozenset({S.SHIPPED, S.PENDING_SHIPMENT, S.CANCELLED, S.FAILED}),
    S.PENDING_SHIPMENT: frozenset({S.SHIPPED, S.CANCELLED, S.FAILED}),
    S.SHIPPED: frozenset({S.COMPLETED}),
    # The pipeline ends at `completed` (captured). What follows is after-sale: the carrier reports
    # delivery, and staff may refund part or all of what was captured, with or without a return
    # (a goodwill refund may come before delivery: a parcel lost on the way). A refund of an
    # order already partially refunded records its event without moving the status, unless it
    # takes the last cent (see orders/services_returns.py, record_refund).
    S.COMPLETED: frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
    # Out of stock is where the saga turns round: the authorization is voided, then cancelled.
    S.OUT_OF_STOCK: frozenset({S.CANCELLED}),
    S.PAYMENT_FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}
# Statuses after a successful pipeline: captured, and maybe delivered or (partly) refunded.
AFTER_SALE: Final = frozenset({S.DELIVERED, S.PARTIALLY_REFUNDED, S.REFUNDED})
FULFILLED: Final = frozenset({S.COMPLETED}) | AFTER_SALE
# Where the pipeline is done with an order: no step of it will move the order again (what comes
# after-sale is staff's and the carrier's, not the pipeline's).
TERMINAL: Final = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt - AFTER_SALE)
# Orders staff may refund (goodwill or a return): the money was captured and some is kept.
REFUNDABLE: Final = frozenset({S.COMPLETED, S.DELIVERED, S.PARTIALLY_REFUNDED})
# Before the parcel leaves, a customer or staff may still cancel.
CANCELLABLE: Final = frozenset(s for s, nxt in TRANSITIONS.items() if S.CANCELLED in nxt) - {
    S.OUT_OF_STOCK
}
# Orders that will not complete: what the pipeline still holds for them (stock, an authorization,
# a carrier booking) goes back. Compensations act on these only, never on an order that is alive.
COMPENSABLE: Final = frozenset({S.CANCELLED, S.FAILED, S.OUT_OF_STOCK, S.PAYMENT_FAILED})


def can_transition(current: OrderStatus | str, to: OrderStatus | str) -> bool:
    return OrderStatus(to) in TRANSITIONS[OrderStatus(current)]


class EventKind(models.TextChoices):
    """What an OrderEvent records. Values are API (they appear in the timeline)."""

    ORDER_CREATED = "order_created"
    PAYMENT_STARTED = "payment_started"
    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_CAPTURED = "payment_captured"
    PAYMENT_VOIDED = "payment_voided"
    PAYMENT_REFUNDED = "payment_refunded"
    STOCK_RESERVED = "stock_reserved"
    STOCK_UNAVAILABLE = "stock_unavailable"
    STOCK_RELEASED = "stock_released"
    SHIPMENT_CREATED = "shipment_created"
    SHIPMENT_FAILED = "shipment_failed"
    # A booked parcel called back (the order will not complete).
    SHIPMENT_CANCELLED = "shipment_cancelled"
    ORDER_SHIPPED = "order_shipped"
    ORDER_COMPLETED = "order_completed"
    CANCEL_REQUESTED = "cancel_requested"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_FAILED = "order_failed"
    STEP_RETRY = "step_retry"
    STEP_RESENT = "step_resent"
    DEAD_LETTERED = "dead_lettered"
    DEAD_LETTER_REPLAYED = "dead_letter_replayed"
    DEAD_LETTER_DISCARDED = "dead_letter_discarded"
    # The order moved on (it ended, or the entry was born for a step it had left): removed.
    DEAD_LETTER_RESOLVED = "dead_letter_resolved"
    # The reconciler re-sent the compensations of an ended order that still holds something.
    COMPENSATION_RESENT = "compensation_resent"
    # A carrier did not answer a booking (timeout, 5xx): it may hold a parcel for the order.
    CARRIER_OUTCOME_UNKNOWN = "carrier_outcome_unknown"
    # That possible booking was called back, because the parcel went another way.
    STRAY_BOOKING_CANCELLED = "stray_booking_cancelled"
    # After the parcel leaves (issue 18).
    ORDER_DELIVERED = "order_delivered"
    RETURN_REQUESTED = "return_requested"
    RETURN_APPROVED = "return_approved"
    RETURN_REFUSED = "return_refused"
    RETURN_RECEIVED = "return_received"
    STOCK_RESTOCKED = "stock_restocked"
    REFUND_REQUESTED = "refund_requested"
    # Staff gave a refund up (its step's dead letter discarded): nothing was paid.
    REFUND_ABANDONED = "refund_abandoned"
    # A mail to the customer went out, or was skipped with its reason (notifications/).
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_SKIPPED = "notification_skipped"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    RECEIVED = "received"
    REFUNDED = "refunded"


R = ReturnStatus
# A return's own small state machine: staff decide, the warehouse receives, payments refunds.
RETURN_TRANSITIONS: Final[Mapping[ReturnStatus, frozenset[ReturnStatus]]] = {
    R.REQUESTED: frozenset({R.APPROVED, R.REFUSED}),
    R.APPROVED: frozenset({R.RECEIVED}),
    R.RECEIVED: frozenset({R.REFUNDED}),
    R.REFUSED: frozenset(),
    R.REFUNDED: frozenset(),
}
# Returns that count against what may still be returned (a refused one gives its units back).
RETURN_OPEN_OR_DONE: Final = frozenset(set(ReturnStatus) - {R.REFUSED})


def can_transition_return(current: ReturnStatus | str, to: ReturnStatus | str) -> bool:
    return ReturnStatus(to) in RETURN_TRANSITIONS[ReturnStatus(current)]


class LineCondition(models.TextChoices):
    """How a returned line came back: restockable units go back on the shelf."""

    RESTOCKABLE = "restockable"
    DAMAGED = "damaged"
