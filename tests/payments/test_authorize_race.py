"""A cancel that lands while the processor answers an authorization: the step's write, made
against the order as it read it, loses its compare-and-swap, is rolled back, and is decided again
on a fresh read: the authorization is recorded and voided, never left held."""

import pytest

from orders import services as order_services
from orders.models import Order
from orders.states import EventKind, OrderStatus
from payments import services
from payments.models import Payment, PaymentStatus

from ..conftest import wait_for
from ..factories import OrderFactory, ProductFactory


@pytest.mark.django_db(transaction=True)
def test_a_cancel_during_the_authorization_voids_what_was_authorized(
    faults, live_worker, monkeypatch
):
    order = OrderFactory(payment_token="tok_visa", lines=[(ProductFactory(on_hand=10), 1)])
    order_id = str(order.public_id)
    real_gateway = services.get_payment_gateway()

    class GatewayAnsweringAfterACancel:
        def __getattr__(self, name):
            return getattr(real_gateway, name)

        def authorize(self, **kwargs):
            answer = real_gateway.authorize(**kwargs)
            order_services.cancel_order(
                order=Order.objects.get(public_id=order_id), actor="customer"
            )
            return answer

    monkeypatch.setattr(services, "get_payment_gateway", GatewayAnsweringAfterACancel)
    assert services.authorize_payment(order_id=order_id) == (
        "authorized after cancelled; compensating"
    )
    kinds = list(Order.objects.get(pk=order.pk).events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.ORDER_CANCELLED, EventKind.PAYMENT_AUTHORIZED]
    wait_for(lambda: Payment.objects.get(order=order).status == PaymentStatus.VOIDED, timeout=30)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
