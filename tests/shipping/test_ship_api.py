"""POST /orders/{id}/ship/: staff ship a pending_shipment order by hand; the pipeline then
captures the payment on a real worker."""

import pytest
from rest_framework.test import APIClient

from inventory.models import Product, Reservation, ReservationStatus
from orders.models import Order
from orders.states import EventKind, OrderStatus
from payments.gateways import get_payment_gateway
from payments.models import Payment, PaymentStatus
from shipping.models import Shipment

from ..conftest import wait_for
from ..factories import OrderFactory, ProductFactory


def _pending_shipment_order(quantity: int = 2) -> Order:
    """An order the carrier could not take: paid (authorized), stock held, pending_shipment."""
    product = ProductFactory(on_hand=10, reserved=quantity)
    order = OrderFactory(status=OrderStatus.PENDING_SHIPMENT, lines=[(product, quantity)])
    Reservation.objects.create(order=order, product=product, quantity=quantity)
    key = f"{order.public_id}:authorize"
    # Authorized for real at the payment sandbox, so the pipeline's capture finds it there.
    authorized = get_payment_gateway().authorize(
        amount_cents=order.total_cents, currency="USD", token="tok_visa", idempotency_key=key
    )
    Payment.objects.create(
        order=order,
        amount_cents=order.total_cents,
        currency="USD",
        status=PaymentStatus.AUTHORIZED,
        gateway="sandbox",
        gateway_reference=authorized.reference,
        idempotency_key=key,
    )
    return order


def _ship(client: APIClient, order: Order, tracking: str = "1Z999"):
    return client.post(
        f"/api/v1/orders/{order.public_id}/ship/", {"tracking_number": tracking}, format="json"
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_worker")
def test_staff_ship_by_hand_commits_stock_and_the_pipeline_captures(staff_api):
    order = _pending_shipment_order(quantity=2)
    response = _ship(staff_api, order)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "shipped"

    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number) == ("manual", "1Z999")
    product = Product.objects.get(pk=order.items.get().product_id)
    assert (product.on_hand, product.reserved) == (8, 0)
    assert Reservation.objects.get(order=order).status == ReservationStatus.COMMITTED
    shipped = order.events.get(kind=EventKind.ORDER_SHIPPED)
    assert shipped.data == {"carrier": "manual", "tracking_number": "1Z999"}

    wait_for(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED, timeout=30)
    assert Payment.objects.get(order=order).status == PaymentStatus.CAPTURED


@pytest.mark.django_db
@pytest.mark.usefixtures("sandboxes")
def test_ship_is_staff_only_and_404_for_unknown_orders(api, staff_api, customer):
    order = _pending_shipment_order()
    Order.objects.filter(pk=order.pk).update(customer=customer)
    response = _ship(api, order)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "permission_denied")
    response = staff_api.post(
        "/api/v1/orders/00000000-0000-0000-0000-000000000000/ship/",
        {"tracking_number": "x"},
        format="json",
    )
    assert response.status_code == 404
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_SHIPMENT


@pytest.mark.django_db
@pytest.mark.usefixtures("sandboxes")
@pytest.mark.parametrize(
    "status", [OrderStatus.RESERVED, OrderStatus.SHIPPED, OrderStatus.CANCELLED]
)
def test_only_pending_shipment_orders_are_shipped_by_hand(staff_api, status):
    order = OrderFactory(status=status)
    response = _ship(staff_api, order)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_shippable"
    assert response.json()["error"]["data"]["current_status"] == status
    assert not Shipment.objects.filter(order=order).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("sandboxes")
@pytest.mark.parametrize("body", [{}, {"tracking_number": ""}, {"tracking_number": "x" * 81}])
def test_ship_needs_a_tracking_number(staff_api, body):
    order = _pending_shipment_order()
    response = staff_api.post(f"/api/v1/orders/{order.public_id}/ship/", body, format="json")
    assert response.status_code == 400
    assert "tracking_number" in response.json()["error"]["fields"]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_SHIPMENT
