"""Shipments: hand a reserved order to a carrier, and take a parcel back if the order was
cancelled while the carrier answered."""

import logging

from django.db import transaction

from inventory import services as inventory_services
from orders import selectors as order_selectors
from orders import services as order_services
from orders.pipeline import SHIP, compensate_on_commit, step_key
from orders.states import EventKind, OrderStatus

from .gateways import get_carrier
from .models import Shipment, ShipmentStatus
from .selectors import shipment_for_order

logger = logging.getLogger(__name__)

SHIPPABLE = frozenset({OrderStatus.RESERVED, OrderStatus.PENDING_SHIPMENT})


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
