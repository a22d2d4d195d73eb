"""Two copies of the capture step at once (the reconciler re-sent it while the first was at the
gateway): one completes the order, the other sees that and stands down."""

import threading

import pytest
from django.db import connection

from orders.models import Order
from orders.states import EventKind, OrderStatus
from payments import services
from payments.models import Payment, PaymentStatus

from ..shipping.test_ship_api import _pending_shipment_order


@pytest.mark.django_db(transaction=True)
def test_a_copy_of_the_capture_that_loses_the_race_stands_down(faults, monkeypatch):
    """Found by a chaos run: the losing copy tried to move a completed order to completed, raised
    InvalidTransitionError and was dead-lettered, parking a completed order for staff."""
    order = _pending_shipment_order()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SHIPPED)
    order_id = str(order.public_id)
    real_gateway = services.get_payment_gateway()
    first: list[str] = []

    class GatewayWhileAnotherCopyRuns:
        """The real gateway; the other copy of the step runs to the end while ours is on the
        wire."""

        def __getattr__(self, name):
            return getattr(real_gateway, name)

        def capture(self, **kwargs):
            answer = real_gateway.capture(**kwargs)
            if not first:
                other = threading.Thread(
                    target=_capture_from_another_connection, args=(order_id, first)
                )
                other.start()
                other.join(timeout=30)
            return answer

    monkeypatch.setattr(services, "get_payment_gateway", GatewayWhileAnotherCopyRuns)
    assert services.capture_payment(order_id=order_id).startswith("skipped: order is completed")
    assert first == ["captured"]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
    assert Payment.objects.get(order=order).status == PaymentStatus.CAPTURED
    assert order.events.filter(kind=EventKind.PAYMENT_CAPTURED).count() == 1


def _capture_from_another_connection(order_id: str, outcome: list[str]) -> None:
    outcome.append("running")  # so this copy's own gateway call starts no third copy
    try:
        outcome[0] = services.capture_payment(order_id=order_id)
    finally:
        connection.close()
