"""Delivery: the parcel arrived, as a carrier's webhook, the delivery poll or staff say it. The
order records it once (orders/services_returns.py: mark_order_delivered), and the return window
counts from then."""

import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from orders import selectors as order_selectors
from orders import services_returns as return_services
from orders.exceptions import OrderNotDeliverableError
from ordersite.errors import ConflictError

from .gateways import GatewayRejectedError, GatewayUnavailableError, carrier_tracking
from .models import CarrierEvent, Shipment
from .selectors import shipment_by_tracking, undelivered_shipments

if TYPE_CHECKING:
    from orders.models import Order

logger = logging.getLogger(__name__)


def record_delivery(
    *, order_id: str, delivered_at: datetime, actor: str, source: str, **data: Any
) -> bool:
    """The parcel arrived: the shipment and the order record it in one transaction, with the
    time and who said so (`source`: carrier_webhook, carrier_poll, staff). Idempotent: False if
    the order already knew. Raises OrderNotDeliverableError for an order not yet completed."""
    with transaction.atomic(durable=True):
        order = order_selectors.order_for_step(order_id=order_id)
        if not return_services.mark_order_delivered(
            order, delivered_at=delivered_at, actor=actor, source=source, **data
        ):
            return False
        Shipment.objects.filter(order=order, delivered_at__isnull=True).update(
            delivered_at=delivered_at
        )
    logger.info("order %s delivered", order_id, extra={"source": source})
    return True


def deliver_order_by_hand(
    *, order: "Order", actor: str, delivered_at: datetime | None = None
) -> "Order":
    """Staff say the parcel arrived (a manual shipment, a carrier that cannot be tracked). A
    second click changes nothing; an order not yet completed is a 409 `not_deliverable`."""
    record_delivery(
        order_id=str(order.public_id),
        delivered_at=delivered_at or timezone.now(),
        actor=actor,
        source="staff",
    )
    return order_selectors.order_for_step(order_id=str(order.public_id))


def handle_carrier_event(
    *, carrier: str, event_id: str, kind: str, tracking_number: str, occurred_at: datetime
) -> bool:
    """A carrier's webhook: handled once per event id (the carrier sends it again until it sees a
    2xx; a repeat finds its CarrierEvent row and changes nothing). Only `delivered` events mean
    anything to us; other kinds are acknowledged and kept out. Returns whether it was new.
    Raises Http404 for a parcel we do not know (the carrier sees the 404 and stops)."""
    shipment = shipment_by_tracking(carrier=carrier, tracking_number=tracking_number)
    if CarrierEvent.objects.filter(event_id=event_id).exists():
        return False
    if kind == "delivered":
        with contextlib.suppress(
            OrderNotDeliverableError
        ):  # capture not recorded yet: the poll comes back
            record_delivery(
                order_id=str(shipment.order.public_id),
                delivered_at=occurred_at,
                actor=carrier,
                source="carrier_webhook",
                event_id=event_id,
            )
    with transaction.atomic(durable=True):
        _, created = CarrierEvent.objects.get_or_create(
            event_id=event_id,
            defaults={"carrier": carrier, "kind": kind, "tracking_number": tracking_number},
        )
    return created


def poll_deliveries(*, limit: int) -> int:
    """Beat, every CARRIER_DELIVERY_POLL_SECONDS: ask each carrier about the parcels of completed
    orders it has not reported delivered (oldest first, at most `limit`). Catches every webhook
    that was lost; a carrier that does not answer is asked again next time. Returns how many
    deliveries it recorded."""
    recorded = 0
    for shipment in undelivered_shipments(limit=limit):
        try:
            tracking = carrier_tracking(shipment.carrier, tracking_number=shipment.tracking_number)
        except (GatewayUnavailableError, GatewayRejectedError):
            logger.warning("delivery poll: %s did not answer", shipment.carrier, exc_info=True)
            continue
        if tracking is None or tracking.delivered_at is None:
            continue
        with contextlib.suppress(OrderNotDeliverableError, ConflictError):
            recorded += record_delivery(
                order_id=str(shipment.order.public_id),
                delivered_at=tracking.delivered_at,
                actor=shipment.carrier,
                source="carrier_poll",
            )
    return recorded
