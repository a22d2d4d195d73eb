"""After the parcel leaves, through the real worker and sandboxes: delivery, returns, refunds.

The carrier sandbox delivers a parcel; our poll (the beat task's service) or its webhook records
it; the customer asks for a return over the API; staff approve and receive it; the refund goes
to the payment sandbox on the payments queue. Each test ends with the invariant audit clean.
"""

import threading
from datetime import timedelta

import httpx
import pytest
from django.db import connection, transaction
from django.utils import timezone

from deadletters import services as dlq_services
from deadletters import store
from inventory.models import Product
from orders import recovery
from orders.invariants import check_invariants
from orders.models import Order, ReturnRequest
from orders.states import EventKind, OrderStatus, ReturnStatus
from ordersite.errors import DomainError
from payments import services_refunds
from payments.models import Payment, PaymentStatus, Refund, RefundStatus
from shipping import services_delivery
from shipping.models import Shipment

from ..conftest import wait_for
from ..factories import ProductFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_worker")]


def _place(api, lines: list[tuple[str, int]], token: str = "tok_visa") -> str:
    body = {
        "items": [{"product_id": sku, "quantity": n} for sku, n in lines],
        "payment_token": token,
    }
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    order_id = response.json()["order_id"]
    wait_for(
        lambda: Order.objects.get(public_id=order_id).status == OrderStatus.COMPLETED, timeout=60
    )
    return order_id


def _order(order_id: str) -> Order:
    return Order.objects.get(public_id=order_id)


def _carrier_delivers(faults, order_id: str) -> None:
    """The courier hands the parcel over: the carrier sandbox records it (as a scan would)."""
    shipment = Shipment.objects.get(order__public_id=order_id)
    url = faults.urls[f"carrier_{shipment.carrier}"]
    answer = httpx.post(
        f"{url}/v1/shipments/{shipment.tracking_number}/deliver", json={}, timeout=5
    )
    assert answer.status_code == 200, answer.text


def _ledger(faults, order_id: str) -> dict:
    reference = Payment.objects.get(order__public_id=order_id).gateway_reference
    return httpx.get(f"{faults.urls['payments']}/v1/authorizations/{reference}", timeout=5).json()


def _audit_clean() -> None:
    report = check_invariants(window_s=0)
    assert report.ok, report.text()


def _kinds(order_id: str) -> list[str]:
    return list(_order(order_id).events.values_list("kind", flat=True))


def test_delivered_order_is_returned_in_two_parts_and_refunded_in_full(api, staff_api, faults):
    ProductFactory(sku="mug", price_cents=1500, on_hand=10)
    ProductFactory(sku="plate", price_cents=800, on_hand=10)
    order_id = _place(api, [("mug", 2), ("plate", 1)])
    assert (
        api.post(
            f"/api/v1/orders/{order_id}/returns/",
            {"lines": [{"product_id": "mug", "quantity": 1}], "reason": "early"},
            format="json",
        ).json()["error"]["code"]
        == "not_returnable"
    )

    # Delivery: the carrier knows, our poll asks it (twice: the second finds nothing new).
    _carrier_delivers(faults, order_id)
    assert services_delivery.poll_deliveries(limit=100) == 1
    assert services_delivery.poll_deliveries(limit=100) == 0
    order = _order(order_id)
    assert (order.status, order.delivered_at is not None) == (OrderStatus.DELIVERED, True)
    assert Shipment.objects.get(order=order).delivered_at == order.delivered_at

    # A partial return: one mug back, restockable.
    first = api.post(
        f"/api/v1/orders/{order_id}/returns/",
        {"lines": [{"product_id": "mug", "quantity": 1}], "reason": "Too many mugs."},
        format="json",
    )
    assert first.status_code == 201, first.content
    first_id = first.json()["return_id"]
    assert (first.json()["status"], first.json()["amount_cents"]) == ("requested", 1500)
    too_many = api.post(
        f"/api/v1/orders/{order_id}/returns/",
        {"lines": [{"product_id": "mug", "quantity": 2}], "reason": "All of them."},
        format="json",
    )
    assert too_many.status_code == 409
    assert too_many.json()["error"]["data"] == {
        "sku": "mug",
        "bought": 2,
        "already_returned": 1,
        "requested": 2,
    }

    assert api.post(f"/api/v1/returns/{first_id}/approve/", {}, format="json").status_code == 403
    assert (
        staff_api.post(f"/api/v1/returns/{first_id}/approve/", {}, format="json").json()["status"]
        == "approved"
    )
    received = staff_api.post(
        f"/api/v1/returns/{first_id}/receive/",
        {"lines": [{"product_id": "mug", "condition": "restockable"}]},
        format="json",
    )
    assert received.status_code == 200, received.content
    wait_for(lambda: _order(order_id).status == OrderStatus.PARTIALLY_REFUNDED, timeout=30)
    assert Product.objects.get(sku="mug").on_hand == 9  # 10 - 2 shipped + 1 back
    assert ReturnRequest.objects.get(public_id=first_id).status == ReturnStatus.REFUNDED
    payment = Payment.objects.get(order__public_id=order_id)
    assert (
        payment.status,
        payment.captured_cents,
        payment.refunded_cents,
        payment.refunding_cents,
    ) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        2300,
        1500,
        0,
    )
    assert _ledger(faults, order_id)["refunded_cents"] == 1500
    _audit_clean()

    # The rest comes back: the plate broken (not restocked), the other mug fine.
    second = api.post(
        f"/api/v1/orders/{order_id}/returns/",
        {
            "lines": [{"product_id": "mug", "quantity": 1}, {"product_id": "plate", "quantity": 1}],
            "reason": "Broken",
        },
        format="json",
    ).json()
    staff_api.post(f"/api/v1/returns/{second['return_id']}/approve/", {}, format="json")
    conditions = [
        {"product_id": "mug", "condition": "restockable"},
        {"product_id": "plate", "condition": "damaged"},
    ]
    staff_api.post(
        f"/api/v1/returns/{second['return_id']}/receive/", {"lines": conditions}, format="json"
    )
    # A second click of "received" is refused; nothing is restocked or refunded twice.
    again = staff_api.post(
        f"/api/v1/returns/{second['return_id']}/receive/", {"lines": conditions}, format="json"
    )
    assert again.json()["error"]["code"] == "invalid_return_transition"
    wait_for(lambda: _order(order_id).status == OrderStatus.REFUNDED, timeout=30)
    assert (Product.objects.get(sku="mug").on_hand, Product.objects.get(sku="plate").on_hand) == (
        10,
        9,
    )
    order = _order(order_id)
    assert order.refunded_cents == order.total_cents == 3800
    assert (_ledger(faults, order_id)["status"], _ledger(faults, order_id)["captured_cents"]) == (
        "refunded",
        0,
    )
    kinds = _kinds(order_id)
    assert kinds[kinds.index(EventKind.ORDER_DELIVERED) :] == [
        EventKind.ORDER_DELIVERED,
        EventKind.RETURN_REQUESTED,
        EventKind.RETURN_APPROVED,
        EventKind.RETURN_RECEIVED,
        EventKind.STOCK_RESTOCKED,
        EventKind.REFUND_REQUESTED,
        EventKind.PAYMENT_REFUNDED,
        EventKind.RETURN_REQUESTED,
        EventKind.RETURN_APPROVED,
        EventKind.RETURN_RECEIVED,
        EventKind.STOCK_RESTOCKED,
        EventKind.REFUND_REQUESTED,
        EventKind.PAYMENT_REFUNDED,
    ]
    # The customer reads each step in their own words; nothing of the processor's.
    public = api.get(f"/api/v1/orders/{order_id}/events/").json()
    assert [e["message"] for e in public][-3:] == [
        "Returned parcel received.",
        "Refund on its way.",
        "Payment refunded.",
    ]
    assert public[-1]["data"] == {"amount_cents": 2300, "refunded_cents": 3800}
    assert "re_" not in str(public)
    body = api.get(f"/api/v1/orders/{order_id}/").json()
    assert (body["status"], body["refunded_cents"]) == ("refunded", 3800)
    _audit_clean()


def test_a_return_past_the_window_is_a_409_saying_when_it_closed(api, faults, settings):
    ProductFactory(sku="lamp", price_cents=4000, on_hand=3)
    order_id = _place(api, [("lamp", 1)])
    settings.RETURN_WINDOW_DAYS = 14
    long_ago = timezone.now() - timedelta(days=15)
    services_delivery.record_delivery(
        order_id=order_id, delivered_at=long_ago, actor="test", source="staff"
    )
    response = api.post(
        f"/api/v1/orders/{order_id}/returns/",
        {"lines": [{"product_id": "lamp", "quantity": 1}], "reason": "Changed my mind."},
        format="json",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "return_window_closed"
    assert error["data"]["return_window_days"] == 14
    assert error["data"]["window_closed_at"] == (long_ago + timedelta(days=14)).isoformat()
    assert not ReturnRequest.objects.exists()


def test_a_refund_the_issuer_refuses_is_retried_dead_lettered_and_replayed(
    api, staff_api, faults, redis_client
):
    ProductFactory(sku="chair", price_cents=6000, on_hand=3)
    order_id = _place(api, [("chair", 1)], token="tok_refund_refused")
    response = staff_api.post(
        f"/api/v1/orders/{order_id}/refunds/",
        {"amount_cents": 2500, "reason": "Scratched leg."},
        format="json",
    )
    assert response.status_code == 202, response.content
    refund_id = response.json()["refund_id"]

    entry = wait_for(lambda: next(iter(store.entries()), None), timeout=60)
    assert (entry.task, entry.args, entry.exc_type, entry.reason) == (
        "payments.refund_payment",
        [order_id, refund_id],
        "RefundRefusedError",
        "retries_exhausted",
    )
    wait_for(lambda: _order(order_id).needs_review, timeout=10)
    assert (
        _kinds(order_id).count(EventKind.STEP_RETRY) == 3
    )  # PIPELINE_REFUND_MAX_RETRIES in the tests
    refund = Refund.objects.get(public_id=refund_id)
    assert (refund.status, refund.failure_code) == (RefundStatus.PENDING, "refund_refused")
    payment = Payment.objects.get(order__public_id=order_id)
    assert (payment.refunding_cents, payment.refunded_cents) == (2500, 0)  # still owed, not paid
    assert _ledger(faults, order_id)["refunded_cents"] == 0

    # The issuer lifts its block; staff replay the step from the DLQ.
    reference = payment.gateway_reference
    httpx.post(
        f"{faults.urls['payments']}/v1/authorizations/{reference}/allow-refunds",
        json={},
        headers={"Idempotency-Key": f"lift-{reference}"},
        timeout=5,
    ).raise_for_status()
    dlq_services.replay_dead_letter(entry_id=entry.id, actor="ops")
    wait_for(lambda: _order(order_id).status == OrderStatus.PARTIALLY_REFUNDED, timeout=30)
    order = _order(order_id)
    assert (order.refunded_cents, order.needs_review) == (2500, False)
    assert _ledger(faults, order_id)["refunded_cents"] == 2500
    assert Refund.objects.get(public_id=refund_id).status == RefundStatus.SUCCEEDED
    _audit_clean()


def test_two_staff_refunding_the_whole_order_at_once_refund_it_once(api, staff, faults):
    ProductFactory(sku="desk", price_cents=9000, on_hand=3)
    order_id = _place(api, [("desk", 1)])
    outcomes: list[object] = []
    barrier = threading.Barrier(2)

    def refund(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            services_refunds.request_refund(
                order_id=order_id, amount_cents=9000, actor=name, reason="Goodwill"
            )
            outcomes.append("refunded")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund, args=(name,)) for name in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refund_exceeds_captured", "refunded"]
    wait_for(lambda: _order(order_id).status == OrderStatus.REFUNDED, timeout=30)
    assert Refund.objects.filter(payment__order__public_id=order_id).count() == 1
    assert _ledger(faults, order_id)["refunded_cents"] == 9000
    # Over the API the loser learns how much is left.
    client = api.__class__()
    client.force_authenticate(staff)
    late = client.post(
        f"/api/v1/orders/{order_id}/refunds/", {"amount_cents": 1, "reason": "x"}, format="json"
    )
    assert (late.status_code, late.json()["error"]["code"]) == (409, "not_refundable")
    _audit_clean()


def test_carrier_webhook_records_a_delivery_once_and_refuses_a_wrong_secret(
    api, client, faults, settings
):
    settings.CARRIER_WEBHOOK_SECRET = "s3cret"
    ProductFactory(sku="rug", price_cents=12000, on_hand=2)
    order_id = _place(api, [("rug", 1)])
    shipment = Shipment.objects.get(order__public_id=order_id)
    event = {
        "event_id": "evt-1",
        "kind": "delivered",
        "tracking_number": shipment.tracking_number,
        "occurred_at": "2026-11-30T09:15:00Z",
    }
    url = f"/api/v1/carriers/{shipment.carrier}/events/"
    assert (
        client.post(
            url, event, content_type="application/json", HTTP_X_CARRIER_SECRET="nope"
        ).status_code
        == 403
    )
    first = client.post(url, event, content_type="application/json", HTTP_X_CARRIER_SECRET="s3cret")
    again = client.post(url, event, content_type="application/json", HTTP_X_CARRIER_SECRET="s3cret")
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    order = _order(order_id)
    assert (order.status, order.delivered_at.isoformat()) == (
        OrderStatus.DELIVERED,
        "2026-11-30T09:15:00+00:00",
    )
    assert _kinds(order_id).count(EventKind.ORDER_DELIVERED) == 1
    unknown = client.post(
        url,
        {**event, "event_id": "evt-2", "tracking_number": "TRKNOPE"},
        content_type="application/json",
        HTTP_X_CARRIER_SECRET="s3cret",
    )
    assert unknown.status_code == 404


def test_discarding_a_refused_refund_gives_it_up_and_frees_its_cents(
    api, staff_api, faults, redis_client
):
    ProductFactory(sku="stool", price_cents=3000, on_hand=3)
    order_id = _place(api, [("stool", 1)], token="tok_refund_refused")
    refund_id = staff_api.post(
        f"/api/v1/orders/{order_id}/refunds/",
        {"amount_cents": 3000, "reason": "Wobbly."},
        format="json",
    ).json()["refund_id"]
    entry = wait_for(lambda: next(iter(store.entries()), None), timeout=60)
    wait_for(lambda: _order(order_id).needs_review, timeout=10)

    dlq_services.discard_dead_letter(
        entry_id=entry.id, actor="ops", reason="Card closed; refunding by bank transfer."
    )
    wait_for(
        lambda: Refund.objects.get(public_id=refund_id).status == RefundStatus.ABANDONED, timeout=30
    )
    order = _order(order_id)
    assert (order.status, order.refunded_cents, order.needs_review) == (
        OrderStatus.COMPLETED,
        0,
        False,
    )
    assert Payment.objects.get(order=order).refunding_cents == 0
    public = api.get(f"/api/v1/orders/{order_id}/events/").json()
    assert (
        public[-1]["message"]
        == "The refund could not be made to your card; our team will contact you."
    )
    _audit_clean()


def test_the_reconciler_sends_again_a_refund_whose_message_was_lost(api, faults, settings):
    ProductFactory(sku="vase", price_cents=2200, on_hand=3)
    order_id = _place(api, [("vase", 1)])
    with transaction.atomic():  # reserved and recorded, but its task never sent (a broker outage)
        refund = services_refunds._reserve_refund(
            _order(order_id),
            amount_cents=2200,
            key=f"{order_id}:refund-lost",
            actor="ann",
            reason="Lost.",
        )
    settings.PIPELINE_STUCK_AFTER_SECONDS = 0
    assert recovery.resend_lost_refunds() == 1
    wait_for(lambda: _order(order_id).status == OrderStatus.REFUNDED, timeout=30)
    assert Refund.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED
    assert EventKind.COMPENSATION_RESENT in _kinds(order_id)
    _audit_clean()
