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
    # Out of stock is where the saga turns round: the authorization is voided, then cancelled.
    S.OUT_OF_STOCK: frozenset({S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.PAYMENT_FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}
TERMINAL: Final = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# Before the parcel leaves, a customer or staff may still cancel.
CANCELLABLE: Final = frozenset(s for s, nxt in TRANSITIONS.items() if S.CANCELLED in nxt) - {S.OUT_OF_STOCK}
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
