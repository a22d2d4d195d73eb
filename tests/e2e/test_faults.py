"""Every failure path of the pipeline, through a real worker and the real sandboxes over HTTP.

Faults are injected in the sandboxes (Redis), timings shortened through the worker's env
(tests/conftest.py FAULT_TIMINGS); after each path the money, stock and state invariants hold.
"""

import httpx
import pytest
from django.db.models import Sum

from inventory.models import Product, Reservation, ReservationStatus
from orders.models import Order
from orders.states import TERMINAL, EventKind, OrderStatus
from ordersite.breakers import Breaker, BreakerName
from ordersite.celery import app as celery_app
from payments.models import Payment, PaymentStatus
from sandboxes.faults import request_count, set_faults
from shipping.models import Shipment

from ..broker import ON_RABBITMQ
from ..conftest import refuses, wait_for
from ..factories import ProductFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_worker")]
WAITING = {OrderStatus.PENDING_SHIPMENT}


def _place(api, sku: str, token: str = "tok_visa") -> str:
    body = {"items": [{"product_id": sku, "quantity": 1}], "payment_token": token}
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["order_id"]


def _reached(order_id: str, *statuses: str) -> bool:
    return Order.objects.get(public_id=order_id).status in statuses


def _events(order_id: str, kind: str) -> list[dict]:
    return list(
        Order.objects.get(public_id=order_id)
        .events.filter(kind=kind)
        .values_list("data", flat=True)
    )


def _ledger(faults) -> dict[str, dict]:
    rows = httpx.get(f"{faults.urls['payments']}/v1/authorizations", timeout=5).json()["data"]
    return {row["id"]: row for row in rows}


def _shipments(faults, carrier: str) -> list[dict]:
    return httpx.get(f"{faults.urls[carrier]}/v1/shipments", timeout=5).json()["data"]


def _assert_invariants(faults) -> None:
    """No order left in between; per order, authorized = captured + voided + refunded, in our
    books and in the processor's ledger, with one authorization per order; stock matches the
    reservations that hold it."""
    ledger = _ledger(faults)
    payments = Payment.objects.exclude(status=PaymentStatus.FAILED).select_related("order")
    assert len(ledger) == payments.count(), (
        "one authorization per paid order, never a second charge"
    )
    for order in Order.objects.all():
        assert order.status in TERMINAL | WAITING, (
            f"{order} is neither finished nor clearly waiting"
        )
    for payment in payments:
        entry = ledger[payment.gateway_reference]
        settled = payment.captured_cents + payment.voided_cents + payment.refunded_cents
        if payment.order.status in WAITING:
            assert (payment.status, entry["status"], settled) == (
                PaymentStatus.AUTHORIZED,
                "authorized",
                0,
            )
            continue
        assert payment.amount_cents == settled == entry["amount_cents"]
        assert (
            entry["captured_cents"] + entry["voided_cents"] + entry["refunded_cents"]
            == entry["amount_cents"]
        )
        assert entry["captured_cents"] == payment.captured_cents
    for product in Product.objects.all():
        held = Reservation.objects.filter(product=product, status=ReservationStatus.HELD)
        assert product.reserved == (held.aggregate(n=Sum("quantity"))["n"] or 0)
        assert 0 <= product.reserved <= product.on_hand


def test_declined_cards_end_payment_failed_never_retried_nor_tripping_the_breaker(api, faults):
    ProductFactory(sku="p")
    declined, broke = _place(api, "p", "tok_declined"), _place(api, "p", "tok_insufficient_funds")
    wait_for(
        lambda: (
            _reached(declined, OrderStatus.PAYMENT_FAILED)
            and _reached(broke, OrderStatus.PAYMENT_FAILED)
        )
    )
    assert Order.objects.get(public_id=broke).status_reason == "The card has insufficient funds."
    assert _events(declined, EventKind.STEP_RETRY) == _events(broke, EventKind.STEP_RETRY) == []
    assert not Reservation.objects.exists()
    payment_breaker = Breaker(BreakerName.PAYMENT).snapshot()
    assert (payment_breaker.state, payment_breaker.errors) == ("closed", 0)
    _assert_invariants(faults)


def test_out_of_stock_voids_the_authorization_at_the_processor(api, faults):
    ProductFactory(sku="last", on_hand=1)
    first, second = _place(api, "last"), _place(api, "last")
    done = (OrderStatus.COMPLETED, OrderStatus.CANCELLED)
    wait_for(lambda: _reached(first, *done) and _reached(second, *done))
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert statuses == [OrderStatus.CANCELLED, OrderStatus.COMPLETED]
    assert sorted(e["status"] for e in _ledger(faults).values()) == ["captured", "voided"]
    _assert_invariants(faults)


def test_processing_error_card_is_retried_with_backoff_and_succeeds_on_attempt_3(api, faults):
    ProductFactory(sku="p")
    order_id = _place(api, "p", "tok_processing_error")
    wait_for(lambda: _reached(order_id, OrderStatus.COMPLETED))
    retries = _events(order_id, EventKind.STEP_RETRY)
    assert [(r["task"], r["attempt"]) for r in retries] == [
        ("payments.authorize_payment", n) for n in (1, 2)
    ]
    assert all("503" in r["error"] for r in retries)
    _assert_invariants(faults)


def test_timeout_card_is_retried_and_charged_once(api, faults):
    ProductFactory(sku="p")
    order_id = _place(api, "p", "tok_timeout")
    wait_for(lambda: _reached(order_id, OrderStatus.COMPLETED))
    assert ["ReadTimeout" in r["error"] for r in _events(order_id, EventKind.STEP_RETRY)] == [True]
    _assert_invariants(faults)


def test_breaker_opens_under_a_burst_of_errors_and_closes_after_recovery(api, faults):
    ProductFactory(sku="p")
    set_faults("payments", error_rate=1.0)
    order_ids = [_place(api, "p") for _ in range(3)]
    wait_for(lambda: Breaker(BreakerName.PAYMENT).snapshot().state == "open")
    wait_for(
        lambda: any(
            "CircuitOpenError" in r["error"]
            for o in order_ids
            for r in _events(o, EventKind.STEP_RETRY)
        )
    )
    set_faults("payments", error_rate=0.0)
    wait_for(lambda: all(_reached(o, OrderStatus.COMPLETED) for o in order_ids), timeout=60)
    breaker = Breaker(BreakerName.PAYMENT).snapshot()
    assert breaker.state == "closed"
    assert breaker.times_opened >= 1
    _assert_invariants(faults)


def test_primary_carrier_down_ships_with_the_fallback(api, faults):
    ProductFactory(sku="p")
    set_faults("carrier_primary", down=True)
    wait_for(lambda: refuses(faults.urls["carrier_primary"]))
    order_id = _place(api, "p")
    wait_for(lambda: _reached(order_id, OrderStatus.COMPLETED), timeout=60)
    assert Shipment.objects.get(order__public_id=order_id).carrier == "fallback"
    assert [s["order_id"] for s in _shipments(faults, "carrier_fallback")] == [order_id]
    assert {r["task"] for r in _events(order_id, EventKind.STEP_RETRY)} == {
        "shipping.create_shipment"
    }
    assert _events(order_id, EventKind.CARRIER_OUTCOME_UNKNOWN) == [], (
        "refused connections booked nothing"
    )
    _assert_invariants(faults)


def test_a_primary_booking_that_timed_out_is_called_back_after_the_fallback_ships(api, faults):
    """Finding 4: the primary carrier books but never answers in time (a timeout is an unknown
    outcome); the order ships with the fallback, and the primary's booking is then cancelled by
    the key that made it, so no carrier holds a parcel the order did not ship with."""
    ProductFactory(sku="p")
    set_faults("carrier_primary", timeout_rate=1.0)
    order_id = _place(api, "p")
    wait_for(lambda: _reached(order_id, OrderStatus.COMPLETED), timeout=60)
    assert Shipment.objects.get(order__public_id=order_id).carrier == "fallback"
    assert {e["carrier"] for e in _events(order_id, EventKind.CARRIER_OUTCOME_UNKNOWN)} == {
        "primary"
    }
    set_faults("carrier_primary", timeout_rate=0.0)  # the primary answers again
    wait_for(lambda: _events(order_id, EventKind.STRAY_BOOKING_CANCELLED), timeout=60)
    assert _events(order_id, EventKind.STRAY_BOOKING_CANCELLED) == [
        {"carrier": "primary", "found": True}
    ]
    assert [(s["order_id"], s["status"]) for s in _shipments(faults, "carrier_primary")] == [
        (order_id, "cancelled")
    ]
    assert [(s["order_id"], s["status"]) for s in _shipments(faults, "carrier_fallback")] == [
        (order_id, "created")
    ]
    _assert_invariants(faults)


def test_both_carriers_down_hold_the_order_pending_until_beat_ships_it(api, faults):
    product = ProductFactory(sku="p", on_hand=5)
    for carrier in ("carrier_primary", "carrier_fallback"):
        set_faults(carrier, down=True)
    wait_for(
        lambda: refuses(faults.urls["carrier_primary"]) and refuses(faults.urls["carrier_fallback"])
    )
    order_id = _place(api, "p")
    wait_for(lambda: _reached(order_id, OrderStatus.PENDING_SHIPMENT), timeout=60)
    product.refresh_from_db()
    assert product.reserved == 1, "stock stays reserved while the order waits"
    _assert_invariants(faults)

    for carrier in ("carrier_primary", "carrier_fallback"):
        set_faults(carrier, down=False)
    wait_for(lambda: not refuses(faults.urls["carrier_primary"]))
    celery_app.send_task("shipping.retry_pending_shipments")
    wait_for(lambda: _reached(order_id, OrderStatus.COMPLETED), timeout=60)
    product.refresh_from_db()
    assert (product.on_hand, product.reserved) == (4, 0)
    _assert_invariants(faults)


def test_cancel_while_an_authorization_times_out_voids_it_and_never_ships(api, faults):
    ProductFactory(sku="p")
    set_faults("payments", latency_ms=2500)  # longer than the read timeout: the answer is lost
    order_id = _place(api, "p")
    wait_for(lambda: request_count("payments") >= 1)
    response = api.post(f"/api/v1/orders/{order_id}/cancel/", format="json")
    assert response.status_code == 200, response.content
    set_faults("payments", latency_ms=0)
    wait_for(
        lambda: Payment.objects.filter(
            order__public_id=order_id, status=PaymentStatus.VOIDED
        ).exists()
    )
    assert _reached(order_id, OrderStatus.CANCELLED)
    assert not Shipment.objects.exists()
    assert [e["status"] for e in _ledger(faults).values()] == ["voided"]
    _assert_invariants(faults)


def test_worker_killed_mid_step_is_recovered_by_the_reconciler(api, faults, live_worker):
    ProductFactory(sku="p")
    set_faults("payments", latency_ms=2500)
    order_id = _place(api, "p")
    wait_for(lambda: request_count("payments") >= 1)  # the authorization is on the wire
    live_worker.kill()
    set_faults("payments", latency_ms=0)
    live_worker.restart()

    def reconciled() -> bool:
        celery_app.send_task("orders.resend_stuck_orders")
        return _reached(order_id, OrderStatus.COMPLETED)

    wait_for(reconciled, timeout=60, interval=1)
    resent = [e["task"] for e in _events(order_id, EventKind.STEP_RESENT)][:1]
    if ON_RABBITMQ:
        # RabbitMQ hands the killed worker's message back as its connection closes: the restarted
        # worker may finish the step before the reconciler finds the order stuck.
        assert resent in ([], ["payments.authorize_payment"])
    else:
        # Redis keeps it unacknowledged until the visibility timeout (an hour): the reconciler.
        assert resent == ["payments.authorize_payment"]
    _assert_invariants(faults)


def test_customers_with_a_flaky_card_cannot_open_the_shared_payment_breaker(api, faults):
    """Finding 5b: six orders with the processing-error card at once (12 card-specific 503s) leave
    the payment breaker closed, and a normal customer's order goes straight through."""
    ProductFactory(sku="p", on_hand=20)
    flaky = [_place(api, "p", "tok_processing_error") for _ in range(6)]
    normal = _place(api, "p")
    wait_for(lambda: _reached(normal, OrderStatus.COMPLETED), timeout=20)
    wait_for(lambda: all(_reached(o, OrderStatus.COMPLETED) for o in flaky), timeout=60)
    breaker = Breaker(BreakerName.PAYMENT).snapshot()
    assert (breaker.times_opened, breaker.errors) == (0, 0)
    assert not any(
        "CircuitOpenError" in r["error"]
        for o in [*flaky, normal]
        for r in _events(o, EventKind.STEP_RETRY)
    )
    _assert_invariants(faults)
