"""Shipments: hand a reserved order to a carrier, and take a parcel back if the order was
cancelled while the carrier answered."""

import logging

from django.db import transaction

from inventory import services as inventory_services
from orders import selectors as order_selectors
from orders import services as order_services
from orders.models import Order
from orders.pipeline import CAPTURE, SHIP, compensate_on_commit, pipeline_chain, step_key
from orders.states import EventKind, OrderStatus

from .exceptions import OrderNotShippableError
from .gateways import get_carrier
from .models import Shipment, ShipmentStatus
from .selectors import shipment_for_order

logger = logging.getLogger(__name__)

SHIPPABLE = frozenset({OrderStatus.RESERVED, OrderStatus.PENDING_SHIPMENT})
MANUAL_CARRIER = "manual"


def create_shipment(*, order_id: str) -> str:
    """Pipeline step: book the parcel, then (one transaction) record it, take the units off the
    shelf and mark the order shipped. Idempotent by the carrier key and the one-per-order row."""
    order = order_selectors.order_for_step(order_id=order_id)
    if order.status not in SHIPPABLE:
        return f"skipped: order is {order.status}"
    carrier = get_carrier("primary")
    result = carrier.create_shipment(
        order_id=order_id,
        address=order.shipping_address,
        parcels=[{"sku": i.sku, "quantity": i.quantity} for i in order_selectors.order_items(order=order)],
        idempotency_key=step_key(order_id, SHIP),
    )
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        shipment, _ = Shipment.objects.get_or_create(
            order=order,
            defaults={
                "carrier": result.carrier,
                "tracking_number": result.tracking_number,
                "label_reference": result.label_reference,
            },
        )
        if order.status not in SHIPPABLE:
            compensate_on_commit(order_id=order_id)
            return f"booked after {order.status}; compensating"
        inventory_services.commit_stock(order_id=order.pk)
        order_services.transition_order(
            order,
            OrderStatus.SHIPPED,
            kind=EventKind.ORDER_SHIPPED,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
        )
    return "shipped"


def cancel_shipment(*, order_id: str) -> str:
    """Compensation: call back a parcel booked for an order that was cancelled. Idempotent."""
    order = order_selectors.order_for_step(order_id=order_id)
    shipment = shipment_for_order(order_id=order.pk)
    if shipment is None or shipment.status != ShipmentStatus.CREATED or order.status != OrderStatus.CANCELLED:
        return "nothing to cancel"
    get_carrier(shipment.carrier if shipment.carrier in ("primary", "fallback") else "primary").cancel_shipment(
        tracking_number=shipment.tracking_number, idempotency_key=step_key(order_id, "cancel_shipment")
    )
    with transaction.atomic(durable=True):
        Shipment.objects.filter(pk=shipment.pk, status=ShipmentStatus.CREATED).update(status=ShipmentStatus.CANCELLED)
    return "cancelled"


def ship_order_by_hand(*, order: Order, tracking_number: str, actor: str) -> Order:
    """Staff handed a `pending_shipment` parcel to a carrier themselves. One durable
    transaction records the shipment, takes the units off the shelf and marks the order
    shipped; the capture step is sent after commit. Two staff racing lose on the order's
    version (ConflictError, 409), so the shipment row is written once."""
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=str(order.public_id))
        if order.status != OrderStatus.PENDING_SHIPMENT:
            raise OrderNotShippableError(
                f"Order {order.public_id} is {order.status}; only pending_shipment orders are shipped by hand.",
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
        booked = {"carrier": MANUAL_CARRIER, "tracking_number": tracking_number, "status": ShipmentStatus.CREATED}
        # A carrier's earlier, cancelled booking may hold the order's one shipment row.
        if not Shipment.objects.filter(order=order).update(label_reference="", **booked):
            Shipment.objects.create(order=order, **booked)
        inventory_services.commit_stock(order_id=order.pk)
        order_id = str(order.public_id)
        transaction.on_commit(lambda: pipeline_chain(order_id, start=CAPTURE).apply_async())
    return order
