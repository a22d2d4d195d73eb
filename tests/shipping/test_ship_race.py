"""Staff ship a parcel by hand while the pipeline's carrier call is still out: the late carrier
booking is called back, and the payment is left alone for the capture."""

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from orders import services as order_services
from orders.models import Order
from orders.states import EventKind, OrderStatus
from payments.models import Payment, PaymentStatus
from sandboxes.faults import reset_faults, set_faults
from shipping import services
from shipping.models import Shipment

from ..conftest import wait_for
from .test_ship_api import _pending_shipment_order


@pytest.mark.django_db(transaction=True)
def test_late_carrier_booking_after_a_manual_ship_is_cancelled_not_compensated(faults):
    order = _pending_shipment_order()
    order_id = str(order.public_id)
    set_faults("carrier_primary", latency_ms=1500)
    outcome = _ship_step_on_the_wire(faults, order_id)

    services.ship_order_by_hand(order=order, tracking_number="HAND-1", actor="staff")

    assert len(outcome.result(timeout=30)) == 1
    assert "duplicate booking cancelled" in outcome.result()[0]
    # A live worker, if one runs, may already have captured and completed it: both are fine.
    assert Order.objects.get(pk=order.pk).status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED)
    assert Shipment.objects.get(order=order).tracking_number == "HAND-1"
    assert Payment.objects.get(order=order).status in (
        PaymentStatus.AUTHORIZED,
        PaymentStatus.CAPTURED,
    )
    assert not order.events.filter(kind=EventKind.PAYMENT_VOIDED).exists()


def _in_flight(faults, carrier: str) -> int:
    return httpx.get(f"{faults.urls[carrier]}/health", timeout=2).json()["in_flight"]


def _ship_step_on_the_wire(faults, order_id: str) -> "Future[list[str]]":
    """Run the shipping step in a thread of its own (its own database connection) and return
    once its call to the (slowed) primary carrier is on the wire."""

    def run_step() -> list[str]:
        try:
            return [services.create_shipment(order_id=order_id)]
        finally:
            connection.close()

    outcome = ThreadPoolExecutor(max_workers=1).submit(run_step)
    wait_for(lambda: _in_flight(faults, "carrier_primary") > 0, timeout=10)
    return outcome


def _ledger(faults, carrier: str, order_id: str) -> list[str]:
    rows = httpx.get(f"{faults.urls[carrier]}/v1/shipments", timeout=5).json()["data"]
    return [row["status"] for row in rows if row["order_id"] == order_id]


@pytest.mark.django_db(transaction=True)
def test_a_cancel_between_our_read_and_our_write_still_calls_the_parcel_back(
    faults, live_worker, monkeypatch
):
    """Found by the redis-restart chaos run: the cancel committed after the step re-read the order
    and before it moved it, so the step's write lost the race; its retry found the order
    cancelled and skipped, and the parcel it had booked stayed live at the carrier."""
    order = _pending_shipment_order()
    order_id = str(order.public_id)
    real_commit_stock = services.inventory_services.commit_stock
    cancelled: list[bool] = []

    def commit_stock_after_a_cancel(**kwargs):
        if not cancelled:
            cancelled.append(True)
            other = threading.Thread(target=_cancel_from_another_connection, args=(order_id,))
            other.start()
            other.join(timeout=30)
        return real_commit_stock(**kwargs)

    monkeypatch.setattr(services.inventory_services, "commit_stock", commit_stock_after_a_cancel)
    assert services.create_shipment(order_id=order_id) == "booked after cancelled; compensating"

    wait_for(lambda: _ledger(faults, "carrier_primary", order_id) == ["cancelled"], timeout=30)
    wait_for(lambda: Payment.objects.get(order=order).status == PaymentStatus.VOIDED, timeout=30)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED


def _cancel_from_another_connection(order_id: str) -> None:
    try:
        order_services.cancel_order(order=Order.objects.get(public_id=order_id), actor="customer")
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_booking_answer_lost_after_the_order_shipped_elsewhere_is_called_back(
    faults, live_worker, settings
):
    """Found by the primary-timeout chaos run: one copy of the step waited on a slow primary while
    another shipped the parcel (here: staff, by hand). The primary's timeout was noted after the
    ship had already looked for bookings to call back, so nobody called that one back."""
    settings.GATEWAY_READ_TIMEOUT = 1.0
    order = _pending_shipment_order()
    order_id = str(order.public_id)
    set_faults("carrier_primary", latency_ms=2000)
    outcome = _ship_step_on_the_wire(faults, order_id)
    services.ship_order_by_hand(order=order, tracking_number="HAND-2", actor="staff")

    assert len(outcome.result(timeout=30)) == 1
    assert "duplicate booking cancelled" in outcome.result()[0]
    reset_faults("carrier_primary")  # the carrier recovers; the call-back gets through
    wait_for(
        lambda: order.events.filter(
            kind=EventKind.STRAY_BOOKING_CANCELLED, data__carrier="primary"
        ).exists()
    )
    # The late booking is cancelled, or refused by its cancelled key: either way none stays live.
    wait_for(lambda: _in_flight(faults, "carrier_primary") == 0, timeout=10)
    assert "created" not in _ledger(faults, "carrier_primary", order_id)
    assert _ledger(faults, "carrier_fallback", order_id) == ["cancelled"]
