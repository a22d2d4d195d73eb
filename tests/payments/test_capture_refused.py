"""A capture the processor refuses is a permanent DomainError (capture_refused): the step is not
retried, the money stays authorized and the order stays shipped, for staff to judge."""

import pytest

from orders.models import Order
from orders.pipeline import TRANSIENT_ERRORS
from orders.states import OrderStatus
from ordersite.celery import app
from payments import services
from payments.exceptions import CaptureRefusedError
from payments.gateways import PaymentResult
from payments.models import Payment, PaymentStatus

from ..shipping.test_ship_api import _pending_shipment_order


class RefusingCaptureGateway:
    """The sandbox, except that its capture answers a decline."""

    def capture(self, **kwargs) -> PaymentResult:
        return PaymentResult(approved=False, decline_code="do_not_honor")


@pytest.mark.django_db
def test_a_refused_capture_raises_capture_refused_and_changes_nothing(faults, monkeypatch):
    order = _pending_shipment_order()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SHIPPED)
    monkeypatch.setattr(services, "get_payment_gateway", RefusingCaptureGateway)

    with pytest.raises(CaptureRefusedError) as refused:
        services.capture_payment(order_id=str(order.public_id))

    assert (refused.value.code, refused.value.data["decline_code"]) == (
        "capture_refused",
        "do_not_honor",
    )
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORIZED


def test_a_refused_capture_is_not_retried():
    app.loader.import_default_modules()
    assert not issubclass(CaptureRefusedError, TRANSIENT_ERRORS)
    assert not issubclass(CaptureRefusedError, app.tasks["payments.capture_payment"].autoretry_for)
