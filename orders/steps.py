"""The pipeline's task names and where each one acts: plain data, so the pipeline, the reconciler
and the dead-letter rules share one definition without importing each other."""

from .states import COMPENSABLE, REFUNDABLE, OrderStatus

AUTHORIZE, RESERVE, SHIP, CAPTURE = (
    "payments.authorize_payment",
    "inventory.reserve_stock",
    "shipping.create_shipment",
    "payments.capture_payment",
)
STEPS: tuple[str, ...] = (AUTHORIZE, RESERVE, SHIP, CAPTURE)

# Where a stalled order picks up again: the step that moves it out of its status.
STEP_FOR_STATUS: dict[str, str] = {
    OrderStatus.PENDING: AUTHORIZE,
    OrderStatus.PAYMENT_PROCESSING: AUTHORIZE,
    OrderStatus.PAID: RESERVE,
    OrderStatus.RESERVED: SHIP,
    OrderStatus.SHIPPED: CAPTURE,
}

CANCEL_SHIPMENT, RELEASE_STOCK, VOID_PAYMENT = (
    "shipping.cancel_shipment",
    "inventory.release_stock",
    "payments.void_payment",
)
# Undo what the pipeline did for an order that will not complete. Each one is sent on its own
# (a group, not a chain): one that keeps failing must not hold back the others.
COMPENSATIONS: tuple[str, ...] = (CANCEL_SHIPMENT, RELEASE_STOCK, VOID_PAYMENT)
# Call back a booking a carrier may hold although the parcel went with another one (its answer
# was lost to a timeout). Not tied to the order's status: a shipped order may need it too.
CANCEL_STRAY_BOOKING = "shipping.cancel_stray_booking"
# Steps that give back what is held: they wait out an open breaker for as long as it stays open
# (a wait spends no retry), where a forward step gives up after PIPELINE_BREAKER_WAIT_MAX_SECONDS.
# Money given back after the sale: a goodwill refund (staff), a received return's refund.
REFUND_PAYMENT, REFUND_RETURN = "payments.refund_payment", "payments.refund_return"
REFUND_STEPS: frozenset[str] = frozenset({REFUND_PAYMENT, REFUND_RETURN})
# A refund step's dead letter discarded by staff: its refund is given up, its cents no longer owed.
ABANDON_REFUND = "payments.abandon_refund"
# Refunds are owed to a customer, as compensations are: they wait out an outage as undos do.
UNDO_STEPS: frozenset[str] = frozenset(
    {*COMPENSATIONS, CANCEL_STRAY_BOOKING, REFUND_PAYMENT, REFUND_RETURN}
)

# The statuses in which each forward step still has work to do.
_WAITS_AT: dict[str, frozenset[str]] = {
    AUTHORIZE: frozenset({OrderStatus.PENDING, OrderStatus.PAYMENT_PROCESSING}),
    RESERVE: frozenset({OrderStatus.PAID}),
    SHIP: frozenset({OrderStatus.RESERVED, OrderStatus.PENDING_SHIPMENT}),
    CAPTURE: frozenset({OrderStatus.SHIPPED}),
    **dict.fromkeys(COMPENSATIONS, COMPENSABLE),
    # A refund waits while the order still keeps money (a fully refunded order needs none).
    **dict.fromkeys((REFUND_PAYMENT, REFUND_RETURN), REFUNDABLE),
}


def step_is_current(task: str, status: str) -> bool:
    """Whether an order in `status` still waits for `task`: the test of a dead letter being
    current. A forward step is current while the order is in a status that step moves on; a
    compensation while the order is one that gets compensated. Anything else (a stray booking,
    a task the pipeline does not know) cannot be judged from the status, so it counts as current."""
    statuses = _WAITS_AT.get(task)
    return statuses is None or status in statuses
