"""The HTTP carrier adapter against both carrier sandboxes, over real HTTP."""

import httpx
import pytest

from ordersite.gateways import GatewayRejectedError
from shipping.gateways import HttpCarrier

pytestmark = pytest.mark.usefixtures("faults")


def _book(carrier: HttpCarrier, order_id: str = "order-1", key: str = "order-1:ship"):
    return carrier.create_shipment(
        order_id=order_id, address={"city": "Oslo"}, parcels=[], idempotency_key=key
    )


def test_create_shipment_is_idempotent_by_order_whatever_the_key(faults):
    carrier = HttpCarrier("primary")
    first, second = _book(carrier), _book(carrier, key="another-key")
    assert first == second
    assert first.tracking_number.startswith("TRK")
    assert first.carrier == "primary"
    shipments = httpx.get(f"{faults.urls['carrier_primary']}/v1/shipments", timeout=5).json()[
        "data"
    ]
    assert [s["order_id"] for s in shipments] == ["order-1"]


def test_each_carrier_books_on_its_own_and_cancels(faults):
    primary, fallback = _book(HttpCarrier("primary")), _book(HttpCarrier("fallback"))
    assert primary.tracking_number != fallback.tracking_number
    HttpCarrier("fallback").cancel_shipment(
        tracking_number=fallback.tracking_number, idempotency_key="c"
    )
    (shipment,) = httpx.get(f"{faults.urls['carrier_fallback']}/v1/shipments", timeout=5).json()[
        "data"
    ]
    assert shipment["status"] == "cancelled"


def _ledger(faults, carrier: str) -> list[dict]:
    return httpx.get(f"{faults.urls[carrier]}/v1/shipments", timeout=5).json()["data"]


def test_a_booking_is_cancelled_by_the_key_that_made_it(faults):
    """Finding 4: a booking whose answer was lost has no tracking number on our side; the key of
    the request that made it finds it."""
    carrier = HttpCarrier("primary")
    _book(carrier)
    assert (
        carrier.cancel_booking(booking_key="order-1:ship", idempotency_key="order-1:cancel_stray")
        is True
    )
    assert [(s["order_id"], s["status"]) for s in _ledger(faults, "carrier_primary")] == [
        ("order-1", "cancelled")
    ]
    assert (
        carrier.cancel_booking(booking_key="order-1:ship", idempotency_key="order-1:cancel_stray")
        is True
    )


def test_cancelling_a_key_that_booked_nothing_refuses_a_later_booking_with_it(faults):
    """The booking may still be on its way when the cancel arrives: the key is refused from then
    on."""
    carrier = HttpCarrier("primary")
    assert (
        carrier.cancel_booking(booking_key="order-2:ship", idempotency_key="order-2:cancel_stray")
        is False
    )
    with pytest.raises(GatewayRejectedError):
        _book(carrier, order_id="order-2", key="order-2:ship")
    assert _ledger(faults, "carrier_primary") == []
    _book(carrier, order_id="order-3", key="order-3:ship")  # other keys book as before
    assert [s["order_id"] for s in _ledger(faults, "carrier_primary")] == ["order-3"]


def test_tracking_tells_when_a_parcel_was_delivered_and_a_cancelled_one_never_is(faults):
    carrier = HttpCarrier("primary")
    booked = _book(carrier)
    assert carrier.tracking(tracking_number=booked.tracking_number).delivered_at is None
    url = f"{faults.urls['carrier_primary']}/v1/shipments/{booked.tracking_number}/deliver"
    httpx.post(
        url, json={"delivered_at": "2026-11-30T09:15:00+00:00"}, timeout=5
    ).raise_for_status()
    httpx.post(
        url, json={"delivered_at": "2026-12-01T00:00:00+00:00"}, timeout=5
    ).raise_for_status()  # once
    tracking = carrier.tracking(tracking_number=booked.tracking_number)
    assert (tracking.status, tracking.delivered_at.isoformat()) == (
        "delivered",
        "2026-11-30T09:15:00+00:00",
    )

    other = _book(carrier, order_id="order-2", key="order-2:ship")
    carrier.cancel_shipment(tracking_number=other.tracking_number, idempotency_key="c2")
    refused = httpx.post(
        f"{faults.urls['carrier_primary']}/v1/shipments/{other.tracking_number}/deliver", json={}
    )
    assert refused.status_code == 422
