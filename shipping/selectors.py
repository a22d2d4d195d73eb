"""Read queries on shipments."""

from django.db.models import QuerySet

from .models import Shipment, ShipmentStatus


def shipment_for_order(*, order_id: int) -> Shipment | None:
    return Shipment.objects.filter(order_id=order_id).first()


def live_bookings() -> QuerySet[Shipment]:
    """Every parcel a carrier holds for an order and that was not called back."""
    return Shipment.objects.filter(status=ShipmentStatus.CREATED)
