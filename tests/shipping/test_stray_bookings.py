"""Finding 4: a booking whose answer was lost (a timeout: unknown outcome) is called back by its
key when the order's parcel does not go with that carrier, here when the order is cancelled."""

import httpx
import pytest

from orders import services as order_services
from orders.pipeline import SHIP, step_key
from orders.states import EventKind, OrderStatus
from shipping import services
from shipping.gateways import HttpCarrier

from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _ledger(faults, carrier: str) -> list[tuple[str, str]]:
    rows = httpx.get(f"{faults.urls[carrier]}/v1/shipments", timeout=5).json()["data"]
    return [(row["order_id"], row["status"]) for row in rows]


def test_cancelling_an_order_calls_back_a_booking_whose_answer_was_lost(faults):
    """The order waited in pending_shipment after the primary timed out (it did book), and was then
    cancelled: no shipment row of ours names that booking, yet cancel_shipment calls it back."""
    order = OrderFactory(status=OrderStatus.CANCELLED, lines=[(ProductFactory(), 1)])
    order_id = str(order.public_id)
    HttpCarrier("primary").create_shipment(
        order_id=order_id, address={}, parcels=[], idempotency_key=step_key(order_id, SHIP)
    )
    order_services.record_step_event(
        order_id=order_id,
        kind=EventKind.CARRIER_OUTCOME_UNKNOWN,
        carrier="primary",
        error="ReadTimeout",
    )
    assert services.cancel_shipment(order_id=order_id) == "nothing to cancel"
    assert _ledger(faults, "carrier_primary") == [(order_id, "cancelled")]
    event = order.events.get(kind=EventKind.STRAY_BOOKING_CANCELLED)
    assert event.data == {"carrier": "primary", "found": True}


def test_a_stray_call_back_never_touches_the_parcel_the_order_shipped_with(faults):
    order = OrderFactory(status=OrderStatus.RESERVED, lines=[(ProductFactory(), 1)])
    order_id = str(order.public_id)
    assert services.create_shipment(order_id=order_id) == "shipped"
    assert services.cancel_stray_booking(order_id=order_id, carrier="primary").startswith("skipped")
    assert _ledger(faults, "carrier_primary") == [(order_id, "created")]
