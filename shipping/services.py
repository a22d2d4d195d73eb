"""Shipments: hand a reserved order to a carrier, and take a parcel back if the order was
cancelled while the carrier answered."""

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q

from inventory import services as inventory_services
from orders import selectors as order_selectors
from orders import services as order_services
from orders.pipeline import (
    CAPTURE,
    SHIP,
    compensate_on_commit,
    pipeline_chain,
    send_on_commit,
    step_key,
    task_signature,
)
from orders.states import COMPENSABLE, EventKind, OrderStatus
from orders.steps import CANCEL_STRAY_BOOKING
from ordersite.breakers import CircuitOpenError
from ordersite.db import guarded_update, insert_or_get
from ordersite.errors import TransientError

from .exceptions import OrderNotShippableError
from .gateways import (
    Carrier,
    ShipmentResult,
    get_carrier,
)
from .models import Shipment, ShipmentStatus
from .selectors import shipment_for_order

if TYPE_CHECKING:
    from orders.models import Order

logger = logging.getLogger(__name__)

SHIPPABLE = frozenset({OrderStatus.RESERVED, OrderStatus.PENDING_SHIPMENT})
MANUAL_CARRIER = "manual"
# Times a booked parcel is recorded against a fresh read of the order (after the read the step
# began with lost its race) before the race is left to the step's retries.
RECORD_ATTEMPTS = 3


def create_shipment(*, order_id: str, last_attempt: bool = True) -> str:
    """Pipeline step: book the parcel, then (one transaction) record it, take the units off the
    shelf and mark the order shipped. Idempotent by the carrier key and the one-per-order row.

    The primary carrier gets the step's retries; on the last attempt, or at once while its
    breaker is open, the fallback carrier is asked. If neither takes the parcel on the last
    attempt the order waits in `pending_shipment` (stock held, payment authorized) for the beat
    task or staff. An order already pending gets one pass through both carriers per call.
    """
    order = order_selectors.order_for_step(order_id=order_id)
    if order.status not in SHIPPABLE:
        return f"skipped: order is {order.status}"
    final = last_attempt or order.status == OrderStatus.PENDING_SHIPMENT
    try:
        result = _book(order, final=final)
    except TransientError as exc:
        if not final:
            raise
        return _hold_for_shipment(order_id=order_id, error=exc)
    # A cancel (or staff) may win the race for the order between our read and our write: the
    # booking is made by then, so it is recorded against what the order now is.
    return order_services.record_against_read(
        order, lambda current: _record_booking(current, result), fresh_reads=RECORD_ATTEMPTS
    )


def _record_booking(order: "Order", result: ShipmentResult) -> str:
    """One transaction: the booking is the order's parcel (ship it), a parcel to call back (the
    order was cancelled meanwhile: compensate), or a duplicate of a parcel staff sent by hand."""
    order_id = str(order.public_id)
    with transaction.atomic(durable=True):
        shipment, created = insert_or_get(
            Shipment,
            order=order,
            defaults={
                "carrier": result.carrier,
                "tracking_number": result.tracking_number,
                "label_reference": result.label_reference,
            },
        )
        if order.status in COMPENSABLE:
            if created:  # the parcel row is in the timeline too (the event log rebuilds it)
                order_services.record_event(
                    order,
                    EventKind.SHIPMENT_CREATED,
                    carrier=shipment.carrier,
                    tracking_number=shipment.tracking_number,
                )
            compensate_on_commit(order_id=order_id)
            return f"booked after {order.status}; compensating"
        duplicate = (
            order.status not in SHIPPABLE and shipment.tracking_number != result.tracking_number
        )
        if order.status in SHIPPABLE:
            inventory_services.commit_stock(order_pk=order.pk)
            order_services.transition_order(
                order,
                OrderStatus.SHIPPED,
                kind=EventKind.ORDER_SHIPPED,
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
            )
            _call_back_strays_on_commit(order, shipped_with=shipment.carrier)
            return "shipped"
    if duplicate:
        # Staff shipped it by hand while the carrier answered: call back this second parcel
        # only; the payment and the order are theirs, not ours to compensate.
        _carrier_that_booked(result.carrier).cancel_shipment(
            tracking_number=result.tracking_number,
            idempotency_key=step_key(order_id, "cancel_duplicate"),
        )
        return f"booked after {order.status}; duplicate booking cancelled"
    return f"skipped: order is {order.status}"


def _carrier_that_booked(name: str) -> Carrier:
    """The carrier to call back for a parcel: the role it was booked with (primary or
    fallback); anything else (a manual shipment) is asked of the primary."""
    return get_carrier(name if name in ("primary", "fallback") else "primary")


def _book(order: "Order", *, final: bool) -> ShipmentResult:
    """The primary carrier, else (breaker open, or its last chance gone) the fallback. A carrier
    that may have booked without our hearing it (a timeout, a 5xx) gets a
    `carrier_outcome_unknown` event: whoever ships the parcel another way calls that one back."""
    request = {
        "order_id": str(order.public_id),
        "address": order.shipping_address,
        "parcels": [
            {"sku": i.sku, "quantity": i.quantity} for i in order_selectors.order_items(order=order)
        ],
        "idempotency_key": step_key(str(order.public_id), SHIP),
    }
    try:
        return get_carrier("primary").create_shipment(**request)
    except CircuitOpenError:
        pass  # known to be failing: no point waiting for it
    except TransientError as exc:
        _note_unknown_outcome(order, "primary", exc)
        if not final:
            raise
    try:
        return get_carrier("fallback").create_shipment(**request)
    except TransientError as exc:
        _note_unknown_outcome(order, "fallback", exc)
        raise


def _note_unknown_outcome(order: "Order", carrier: str, exc: Exception) -> None:
    """Record that `carrier` may hold a booking. Whoever ships the order later reads this event
    and calls that booking back; if the order has already moved on (another copy of the step
    shipped it, or it was cancelled) while this answer was lost, the call-back is sent here."""
    if not getattr(exc, "maybe_delivered", False):
        return
    order_id = str(order.public_id)
    order_services.record_step_event(
        order_id=order_id,
        kind=EventKind.CARRIER_OUTCOME_UNKNOWN,
        carrier=carrier,
        error=f"{type(exc).__name__}: {exc}"[:300],
    )
    # Read after the event committed: a shipping transaction that committed first is seen here,
    # and one that commits later sees the event (both write the order row, so they serialise).
    if order_selectors.order_for_step(order_id=order_id).status not in SHIPPABLE:
        task_signature(CANCEL_STRAY_BOOKING, order_id, carrier).apply_async()


def _stray_carriers(order: "Order", *, shipped_with: str) -> list[str]:
    """Carriers that may hold a booking for the order although its parcel went with `shipped_with`
    (or nowhere): those whose booking answer was lost."""
    unknown = order_selectors.order_events_of_kind(
        order=order, kind=EventKind.CARRIER_OUTCOME_UNKNOWN
    )
    return sorted({str(event.data.get("carrier")) for event in unknown} - {shipped_with})


def _call_back_strays_on_commit(order: "Order", *, shipped_with: str) -> None:
    for carrier in _stray_carriers(order, shipped_with=shipped_with):
        send_on_commit(CANCEL_STRAY_BOOKING, str(order.public_id), carrier)


def cancel_stray_booking(*, order_id: str, carrier: str) -> str:
    """Compensation: call back a booking `carrier` may hold for the order although the parcel did
    not go with it (its booking answer was lost to a timeout). Cancelled by the booking's key, so
    a booking that lands after this is refused too. Idempotent; never touches the order's real
    parcel (the one recorded with this carrier, which cancel_shipment looks after)."""
    order = order_selectors.order_for_step(order_id=order_id)
    shipment = shipment_for_order(order_pk=order.pk)
    if shipment is not None and shipment.carrier == carrier:
        return f"skipped: the order's parcel is with {carrier}"
    found = get_carrier(carrier).cancel_booking(
        booking_key=step_key(order_id, SHIP),
        idempotency_key=step_key(order_id, f"cancel_stray_{carrier}"),
    )
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        order_services.record_event(
            order, EventKind.STRAY_BOOKING_CANCELLED, carrier=carrier, found=found
        )
    return f"stray booking at {carrier} {'cancelled' if found else 'not found; its key is refused'}"


def _hold_for_shipment(*, order_id: str, error: Exception) -> str:
    """Both carriers failed for good: the order waits with its stock and authorization kept."""
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        reason = "No carrier could take the parcel; it will be retried."
        failure = f"{type(error).__name__}: {error}"[:300]
        if order.status == OrderStatus.RESERVED:
            order_services.transition_order(
                order,
                OrderStatus.PENDING_SHIPMENT,
                kind=EventKind.SHIPMENT_FAILED,
                reason=reason,
                error=failure,
            )
        elif order.status == OrderStatus.PENDING_SHIPMENT:
            order_services.record_event(order, EventKind.SHIPMENT_FAILED, error=failure)
        else:
            return f"skipped: order is {order.status}"
    return "pending_shipment"


def retry_pending_shipments() -> int:
    """Beat task: send the shipping step (and the capture after it) again for every order
    waiting in `pending_shipment`. Idempotent: a step for an order that moved on skips it."""
    order_ids = order_selectors.order_ids_in_status(status=OrderStatus.PENDING_SHIPMENT)
    for order_id in order_ids:
        pipeline_chain(order_id, start=SHIP).apply_async()
    return len(order_ids)


def cancel_shipment(*, order_id: str) -> str:
    """Compensation: call back a parcel booked for an order that will not complete (cancelled,
    failed). Idempotent; a live order's parcel is never called back."""
    order = order_selectors.order_for_step(order_id=order_id)
    if order.status not in COMPENSABLE:
        return f"skipped: order is {order.status}"
    shipment = shipment_for_order(order_pk=order.pk)
    # Bookings whose answer was lost are called back too (each by its key; idempotent).
    for carrier in _stray_carriers(order, shipped_with=shipment.carrier if shipment else ""):
        cancel_stray_booking(order_id=order_id, carrier=carrier)
    if shipment is None or shipment.status != ShipmentStatus.CREATED:
        return "nothing to cancel"
    _carrier_that_booked(shipment.carrier).cancel_shipment(
        tracking_number=shipment.tracking_number,
        idempotency_key=step_key(order_id, "cancel_shipment"),
    )
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        if guarded_update(
            Shipment,
            shipment.pk,
            when=Q(status=ShipmentStatus.CREATED),
            status=ShipmentStatus.CANCELLED,
        ):
            order_services.record_event(
                order,
                EventKind.SHIPMENT_CANCELLED,
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
            )
    return "cancelled"


def ship_order_by_hand(*, order: "Order", tracking_number: str, actor: str) -> "Order":
    """Staff handed a `pending_shipment` parcel to a carrier themselves. One durable
    transaction records the shipment, takes the units off the shelf and marks the order
    shipped; the capture step is sent after commit. Two staff racing lose on the order's
    version (ConflictError, 409), so the shipment row is written once."""
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=str(order.public_id))
        if order.status != OrderStatus.PENDING_SHIPMENT:
            raise OrderNotShippableError(
                f"Order {order.public_id} is {order.status}; "
                "only pending_shipment orders are shipped by hand.",
                order_id=str(order.public_id),
                current_status=order.status,
            )
        order_services.transition_order(
            order,
            OrderStatus.SHIPPED,
            kind=EventKind.ORDER_SHIPPED,
            actor=actor,
            carrier=MANUAL_CARRIER,
            tracking_number=tracking_number,
        )
        booked = {
            "carrier": MANUAL_CARRIER,
            "tracking_number": tracking_number,
            "status": ShipmentStatus.CREATED,
        }
        # A carrier's earlier, cancelled booking may hold the order's one shipment row.
        if not Shipment.objects.filter(order=order).update(label_reference="", **booked):
            Shipment.objects.create(order=order, **booked)
        inventory_services.commit_stock(order_pk=order.pk)
        _call_back_strays_on_commit(order, shipped_with=MANUAL_CARRIER)
        order_id = str(order.public_id)
        transaction.on_commit(lambda: pipeline_chain(order_id, start=CAPTURE).apply_async())
    return order
