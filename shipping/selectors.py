"""Read queries on shipments."""

from .models import Shipment


def shipment_for_order(*, order_id: int) -> Shipment | None:
    return Shipment.objects.filter(order_id=order_id).first()
