"""Finding 11: compensations are sent each on its own (one failing cannot hold back the others),
and the reconciler re-sends those an ended order lost. Through the live worker and the sandboxes."""

from datetime import timedelta

import httpx
import pytest
from django.db import transaction
from django.utils import timezone

from inventory.models import Product, Reservation, ReservationStatus
from orders import pipeline
from orders.models import Order
from orders.recovery import resend_lost_compensations
from orders.states import EventKind, OrderStatus
from payments.gateways import HttpPaymentGateway
from payments.models import Payment, PaymentStatus
from shipping.gateways import HttpCarrier
from shipping.models import Shipment, ShipmentStatus

from ..conftest import wait_for
from ..factories import OrderFactory, ProductFactory, backdate_events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_worker")]


def _authorized(order: Order) -> Payment:
    """A real authorization at the payment sandbox, recorded as the pipeline would."""
    key = pipeline.step_key(str(order.public_id), pipeline.AUTHORIZE)
    result = HttpPaymentGateway().authorize(
        amount_cents=1000, currency="USD", token="tok_visa", idempotency_key=key
    )
    return Payment.objects.create(
        order=order,
        amount_cents=1000,
        currency="USD",
        status=PaymentStatus.AUTHORIZED,
        gateway="sandbox",
        gateway_reference=result.reference,
        idempotency_key=key,
    )


def _ledger_status(faults, payment: Payment) -> str:
    url = f"{faults.urls['payments']}/v1/authorizations/{payment.gateway_reference}"
    return httpx.get(url, timeout=5).json()["status"]


def _voided(payment: Payment) -> bool:
    return Payment.objects.get(pk=payment.pk).status == PaymentStatus.VOIDED


def test_a_release_that_keeps_failing_does_not_hold_back_the_void(faults):
    """The stock row is out of step with the reservation, so release_stock loses its guarded
    update and retries; the void, sent on its own, gives the money back meanwhile."""
    product = ProductFactory(on_hand=5, reserved=0)
    order = OrderFactory(status=OrderStatus.CANCELLED, lines=[(product, 2)])
    Reservation.objects.create(order=order, product=product, quantity=2)
    payment = _authorized(order)
    with transaction.atomic():
        pipeline.compensate_on_commit(order_id=str(order.public_id))

    wait_for(
        lambda: order.events.filter(
            kind=EventKind.STEP_RETRY, data__task="inventory.release_stock"
        ).exists()
    )
    wait_for(lambda: _voided(payment), timeout=15)
    assert _ledger_status(faults, payment) == "voided"
    assert Reservation.objects.get(order=order).status == ReservationStatus.HELD, (
        "release still failing"
    )

    Product.objects.filter(pk=product.pk).update(reserved=2)  # the row is right again
    wait_for(
        lambda: Reservation.objects.get(order=order).status == ReservationStatus.RELEASED,
        timeout=30,
    )
    assert Product.objects.get(pk=product.pk).reserved == 0


def test_the_reconciler_gives_back_what_an_ended_order_still_holds(faults, settings):
    """A cancelled order whose compensation message was lost (committed here with no message
    sent): the sweep re-sends it, and the stock, the authorization and the booking all go back."""
    settings.PIPELINE_STUCK_AFTER_SECONDS = 60
    product = ProductFactory(on_hand=5, reserved=1)
    order = OrderFactory(status=OrderStatus.CANCELLED, lines=[(product, 1)])
    order_id = str(order.public_id)
    Reservation.objects.create(order=order, product=product, quantity=1)
    payment = _authorized(order)
    booked = HttpCarrier("primary").create_shipment(
        order_id=order_id,
        address={},
        parcels=[],
        idempotency_key=pipeline.step_key(order_id, pipeline.SHIP),
    )
    Shipment.objects.create(order=order, carrier="primary", tracking_number=booked.tracking_number)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    backdate_events(order.events.all(), timezone.now() - timedelta(minutes=5))

    assert resend_lost_compensations() == 1
    wait_for(lambda: _voided(payment), timeout=30)
    wait_for(
        lambda: Shipment.objects.get(order=order).status == ShipmentStatus.CANCELLED, timeout=30
    )
    wait_for(
        lambda: Reservation.objects.get(order=order).status == ReservationStatus.RELEASED,
        timeout=30,
    )
    assert _ledger_status(faults, payment) == "voided"
    shipments = httpx.get(f"{faults.urls['carrier_primary']}/v1/shipments", timeout=5).json()[
        "data"
    ]
    assert [(s["order_id"], s["status"]) for s in shipments] == [(order_id, "cancelled")]
    assert Product.objects.get(pk=product.pk).reserved == 0
    assert (
        Order.objects.get(pk=order.pk).events.filter(kind=EventKind.COMPENSATION_RESENT).count()
        == 1
    )
    assert resend_lost_compensations() == 0
