"""Staff ship a parcel by hand while the pipeline's carrier call is still out: the late carrier
booking is called back, and the payment is left alone for the capture."""

import threading

import httpx
import pytest
from django.db import connection

from orders.models import Order
from orders.states import EventKind, OrderStatus
from payments.models import Payment, PaymentStatus
from sandboxes.faults import set_faults
from shipping import services
from shipping.models import Shipment

from ..conftest import wait_for
from .test_ship_api import _pending_shipment_order


@pytest.mark.django_db(transaction=True)
def test_late_carrier_booking_after_a_manual_ship_is_cancelled_not_compensated(faults):
    order = _pending_shipment_order()
    order_id = str(order.public_id)
    set_faults("carrier_primary", latency_ms=1500)
    outcome: list[str] = []

    def run_step() -> None:
        try:
            outcome.append(services.create_shipment(order_id=order_id))
        finally:
            connection.close()

    step = threading.Thread(target=run_step)
    step.start()
    carrier = faults.urls["carrier_primary"]
    wait_for(lambda: httpx.get(f"{carrier}/health", timeout=2).json()["in_flight"] > 0, timeout=10)

    services.ship_order_by_hand(order=order, tracking_number="HAND-1", actor="staff")
    step.join(timeout=30)

    assert len(outcome) == 1
    assert "duplicate booking cancelled" in outcome[0]
    # A live worker, if one runs, may already have captured and completed it: both are fine.
    assert Order.objects.get(pk=order.pk).status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED)
    assert Shipment.objects.get(order=order).tracking_number == "HAND-1"
    assert Payment.objects.get(order=order).status in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED)
    assert not order.events.filter(kind=EventKind.PAYMENT_VOIDED).exists()
