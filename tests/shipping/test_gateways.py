"""The HTTP carrier adapter against both carrier sandboxes, over real HTTP."""

import httpx
import pytest

from shipping.gateways import HttpCarrier

pytestmark = pytest.mark.usefixtures("faults")


def _book(carrier: HttpCarrier, order_id: str = "order-1", key: str = "order-1:ship"):
    return carrier.create_shipment(order_id=order_id, address={"city": "Oslo"}, parcels=[], idempotency_key=key)


def test_create_shipment_is_idempotent_by_order_whatever_the_key(faults):
    carrier = HttpCarrier("primary")
    first, second = _book(carrier), _book(carrier, key="another-key")
    assert first == second
    assert first.tracking_number.startswith("TRK")
    assert first.carrier == "primary"
    shipments = httpx.get(f"{faults.urls['carrier_primary']}/v1/shipments", timeout=5).json()["data"]
    assert [s["order_id"] for s in shipments] == ["order-1"]


def test_each_carrier_books_on_its_own_and_cancels(faults):
    primary, fallback = _book(HttpCarrier("primary")), _book(HttpCarrier("fallback"))
    assert primary.tracking_number != fallback.tracking_number
    HttpCarrier("fallback").cancel_shipment(tracking_number=fallback.tracking_number, idempotency_key="c")
    (shipment,) = httpx.get(f"{faults.urls['carrier_fallback']}/v1/shipments", timeout=5).json()["data"]
    assert shipment["status"] == "cancelled"
