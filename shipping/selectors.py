"""Read queries on shipments."""

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from orders.states import OrderStatus
from ordersite.compiled import CompiledRead

from .gateways import ROLES, Booking, carrier_bookings
from .models import Shipment, ShipmentStatus

_SHIPMENT_OF_ORDER = CompiledRead(
    lambda pk: Shipment.objects.filter(order_id=pk).order_by("pk")[:1]
)


def shipment_for_order(*, order_pk: int) -> Shipment | None:
    """An order's shipment (one at most: order_id is unique), read by its steps."""
    return next(iter(_SHIPMENT_OF_ORDER(order_pk)), None)


def live_bookings() -> QuerySet[Shipment]:
    """Every parcel a carrier holds for an order and that was not called back."""
    return Shipment.objects.filter(status=ShipmentStatus.CREATED)


def shipment_audit_rows(*, order_pks: QuerySet | None = None) -> list[dict[str, Any]]:
    """Every shipment of the orders in `order_pks` (a subquery of order pks; None: all), as plain
    rows for the invariant audit: one query."""
    shipments = (
        Shipment.objects.all()
        if order_pks is None
        else Shipment.objects.filter(order_id__in=order_pks)
    )
    return list(shipments.values("order_id", "carrier", "tracking_number", "status"))


def carrier_ledgers() -> dict[str, list[Booking] | None]:
    """Each carrier role's own books (over its API); None for a carrier whose adapter cannot
    list them."""
    return {role: carrier_bookings(role) for role in ROLES}


def shipment_by_tracking(*, carrier: str, tracking_number: str) -> Shipment:
    """The shipment a carrier's event names (404 for a parcel we do not know of)."""
    shipment = (
        Shipment.objects.select_related("order")
        .filter(carrier=carrier, tracking_number=tracking_number)
        .first()
    )
    if shipment is None:
        raise Http404(f"No {carrier} shipment {tracking_number}.")
    return shipment


def undelivered_shipments(*, limit: int) -> list[Shipment]:
    """Live parcels of completed orders that no one reported delivered, oldest first: what the
    delivery poll asks the carriers about. Staff's manual shipments are not tracked."""
    return list(
        Shipment.objects.select_related("order")
        .filter(
            status=ShipmentStatus.CREATED,
            delivered_at__isnull=True,
            order__status=OrderStatus.COMPLETED,
        )
        .filter(carrier__in=ROLES)
        .order_by("created_at")[:limit]
    )


def shipment_state_rows(*, first: int, last: int) -> list[tuple]:
    """(order pk, carrier, tracking number, status, delivered at) of the shipments of orders
    `first`..`last` (pks), by order: what verify_events compares, a batch per query."""
    shipments = Shipment.objects.filter(order_id__gte=first, order_id__lte=last).order_by(
        "order_id"
    )
    return list(
        shipments.values_list("order_id", "carrier", "tracking_number", "status", "delivered_at")
    )
