"""Orders over real HTTP, through a real Celery worker consuming real Redis queues."""

import httpx
import pytest

from inventory.models import Product, Reservation
from orders.models import Order
from orders.states import EventKind, OrderStatus
from payments.models import Payment, PaymentStatus
from shipping.models import Shipment

from ..conftest import wait_for
from ..factories import ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_worker")]

SEED_BODY = {
    "customer_id": "cust-123",
    "items": [{"product_id": "prod-1", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}],
}


def _status(order_id: str) -> str:
    return Order.objects.get(public_id=order_id).status


def _settled(order_id: str, statuses: set[str]) -> str | None:
    status = _status(order_id)
    return status if status in statuses else None


def test_seed_request_over_http_reaches_completed_with_its_full_timeline(live_server, token_for):
    product = ProductFactory(sku="prod-1", price_cents=1000, on_hand=10)
    customer = UserFactory(username="cust-123")
    response = httpx.post(
        f"{live_server.url}/api/v1/orders/",
        json=SEED_BODY,
        headers={"Authorization": f"Token {token_for(customer)}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == body["url"]
    assert (body["status"], body["total_cents"]) == ("pending", 2000)

    wait_for(lambda: _settled(body["order_id"], {OrderStatus.COMPLETED}), timeout=30)
    order = Order.objects.get(public_id=body["order_id"])
    assert list(order.events.values_list("kind", flat=True)) == [
        EventKind.ORDER_CREATED,
        EventKind.PAYMENT_STARTED,
        EventKind.PAYMENT_AUTHORIZED,
        EventKind.STOCK_RESERVED,
        EventKind.ORDER_SHIPPED,
        EventKind.PAYMENT_CAPTURED,
        EventKind.ORDER_COMPLETED,
    ]
    assert list(order.events.values_list("seq", flat=True)) == list(range(1, 8))
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.captured_cents) == (PaymentStatus.CAPTURED, 2000)
    assert Shipment.objects.get(order=order).tracking_number.startswith("TRK")
    product.refresh_from_db()
    assert (product.on_hand, product.reserved) == (8, 0)

    timeline = httpx.get(
        f"{live_server.url}/api/v1/orders/{body['order_id']}/events/",
        headers={"Authorization": f"Token {token_for(customer)}"},
        timeout=10,
    )
    assert [e["kind"] for e in timeline.json()][-1] == "order_completed"


def test_twenty_orders_race_for_five_units_through_the_workers(api):
    product = ProductFactory(sku="last-five", on_hand=5)
    ids = []
    for _ in range(20):
        response = api.post(
            "/api/v1/orders/",
            {"items": [{"product_id": "last-five", "quantity": 1}]},
            format="json",
        )
        assert response.status_code == 201
        ids.append(response.json()["order_id"])

    final = {OrderStatus.COMPLETED, OrderStatus.CANCELLED}
    wait_for(lambda: all(_settled(i, final) for i in ids), timeout=60)
    statuses = [_status(i) for i in ids]
    assert statuses.count(OrderStatus.COMPLETED) == 5
    assert statuses.count(OrderStatus.CANCELLED) == 15
    product.refresh_from_db()
    assert (product.on_hand, product.reserved) == (0, 0)
    assert Reservation.objects.filter(product=product).count() == 5
    for order in Order.objects.filter(status=OrderStatus.CANCELLED):
        kinds = list(order.events.values_list("kind", flat=True))
        assert kinds[-3:] == [
            EventKind.STOCK_UNAVAILABLE,
            EventKind.PAYMENT_VOIDED,
            EventKind.ORDER_CANCELLED,
        ]
        assert Payment.objects.get(order=order).status == PaymentStatus.VOIDED


def test_declined_card_ends_payment_failed_with_the_reason(api):
    ProductFactory(sku="p", on_hand=5)
    response = api.post(
        "/api/v1/orders/",
        {"items": [{"product_id": "p", "quantity": 1}], "payment_token": "tok_declined"},
        format="json",
    )
    order_id = response.json()["order_id"]
    wait_for(lambda: _settled(order_id, {OrderStatus.PAYMENT_FAILED}), timeout=30)
    order = Order.objects.get(public_id=order_id)
    assert order.status_reason == "The card was declined."
    assert not Reservation.objects.filter(order=order).exists()
    assert Product.objects.get(sku="p").reserved == 0
