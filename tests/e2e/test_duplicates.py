"""Finding 3: duplicate deliveries of a step (a redelivery, a reconciler re-send, a DLQ replay)
must never compensate an order that is alive. Two real copies of `authorize_payment` race through
the live worker against the payment sandbox; the compensations are checked on their own too."""

import threading

import httpx
import pytest
from django.db import connection, transaction

from inventory import services as inventory_services
from inventory.models import Product, Reservation, ReservationStatus
from orders import services as order_services
from orders.models import Order
from orders.states import EventKind, OrderStatus
from ordersite.celery import app as celery_app
from payments import services as payment_services
from payments.models import Payment, PaymentStatus
from sandboxes.faults import request_count, set_faults
from shipping import services as shipping_services
from shipping.models import Shipment, ShipmentStatus

from ..conftest import _pipeline_idle, task_result, wait_for
from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _ledger(faults) -> list[dict]:
    return httpx.get(f"{faults.urls['payments']}/v1/authorizations", timeout=5).json()["data"]


def _results(worker, *task_ids: str) -> list[str] | None:
    results = [task_result(worker, task_id) for task_id in task_ids]
    return results if all(results) else None


def test_a_duplicate_authorize_that_sees_the_order_paid_compensates_nothing(faults, live_worker):
    """Copy B reads `payment_processing`, then gets its (replayed) answer after copy A committed
    `paid`: the order is not cancelled, so nothing is voided."""
    order = OrderFactory(status=OrderStatus.PAYMENT_PROCESSING, lines=[(ProductFactory(), 1)])
    order_id = str(order.public_id)
    set_faults(
        "payments", latency_ms=1000
    )  # below the worker's read timeout, long enough to overlap
    first = celery_app.send_task("payments.authorize_payment", args=[order_id])
    wait_for(lambda: request_count("payments") >= 1, timeout=10, interval=0.02)
    second = celery_app.send_task("payments.authorize_payment", args=[order_id])
    wait_for(lambda: request_count("payments") >= 2, timeout=10, interval=0.02)  # B read the order
    results = wait_for(lambda: _results(live_worker, first.id, second.id), timeout=30)
    wait_for(_pipeline_idle, timeout=30)  # whatever B sent has run

    assert sorted(results)[0] == "authorized"
    assert "compensating" not in results[1] + results[0]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORIZED
    assert [row["status"] for row in _ledger(faults)] == ["authorized"]
    assert not order.events.filter(kind=EventKind.PAYMENT_VOIDED).exists()


def test_compensations_leave_a_live_order_alone(faults):
    """void_payment, release_stock and cancel_shipment look at the order themselves: a copy sent
    for an order that is alive (reserved, here) changes nothing, here or at the sandbox."""
    product = ProductFactory(on_hand=5)
    order = OrderFactory(status=OrderStatus.PENDING, lines=[(product, 2)])
    order_id = str(order.public_id)
    assert payment_services.authorize_payment(order_id=order_id) == "authorized"
    assert inventory_services.reserve_stock(order_id=order_id) == "reserved"

    assert payment_services.void_payment(order_id=order_id) == "skipped: order is reserved"
    assert inventory_services.release_stock(order_id=order_id) == "skipped: order is reserved"
    assert shipping_services.cancel_shipment(order_id=order_id) == "skipped: order is reserved"
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORIZED
    assert [row["status"] for row in _ledger(faults)] == ["authorized"]
    assert Reservation.objects.get(order=order).status == ReservationStatus.HELD
    assert Product.objects.get(pk=product.pk).reserved == 2

    assert shipping_services.create_shipment(order_id=order_id) == "shipped"
    assert shipping_services.cancel_shipment(order_id=order_id) == "skipped: order is shipped"
    assert Shipment.objects.get(order=order).status == ShipmentStatus.CREATED
    assert payment_services.void_payment(order_id=order_id) == "skipped: order is shipped"
    assert payment_services.capture_payment(order_id=order_id) == "captured"
    assert [row["status"] for row in _ledger(faults)] == ["captured"]


def _shipments(faults, carrier: str) -> list[dict]:
    return httpx.get(f"{faults.urls[carrier]}/v1/shipments", timeout=5).json()["data"]


@pytest.mark.usefixtures("live_worker")
def test_a_booking_that_lands_after_the_order_failed_is_called_back(faults):
    """A failed order (its dead letter discarded) is compensated like a cancelled one: a parcel a
    copy of the shipping step booked for it meanwhile is cancelled at the carrier, not left live."""
    order = OrderFactory(status=OrderStatus.RESERVED, lines=[(ProductFactory(), 1)])
    order_id = str(order.public_id)
    set_faults("carrier_primary", latency_ms=1000)
    outcome: list[str] = []

    def ship() -> None:
        try:
            outcome.append(shipping_services.create_shipment(order_id=order_id))
        finally:
            connection.close()

    step = threading.Thread(target=ship)
    step.start()
    wait_for(
        lambda: request_count("carrier_primary") >= 1, timeout=10, interval=0.02
    )  # booking on the wire
    with transaction.atomic():
        order_services.transition_order(
            Order.objects.get(pk=order.pk),
            OrderStatus.FAILED,
            kind=EventKind.ORDER_FAILED,
            reason="given up",
        )
    step.join(timeout=30)
    assert outcome == ["booked after failed; compensating"]
    wait_for(
        lambda: Shipment.objects.filter(order=order, status=ShipmentStatus.CANCELLED).exists(),
        timeout=30,
    )
    assert [(s["order_id"], s["status"]) for s in _shipments(faults, "carrier_primary")] == [
        (order_id, "cancelled")
    ]
