"""The reconciler: which stuck orders it re-sends, which ended orders get their lost compensations
again, and that it waits a full period before touching an order again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import Reservation
from orders.models import Order
from orders.recovery import resend_lost_compensations, resend_stuck_orders
from orders.states import EventKind, OrderStatus
from orders.timeline import record_step_event
from payments.models import Payment, PaymentStatus
from shipping.models import Shipment

from ..conftest import without_live_publish
from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _aged(status: str, minutes: int = 10) -> Order:
    order = OrderFactory(status=status)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes))
    return order


def test_resend_stuck_orders_resends_the_step_of_each_stuck_order_once_per_period(
    settings, django_capture_on_commit_callbacks
):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    stuck = _aged(OrderStatus.PAID)
    with django_capture_on_commit_callbacks(execute=False) as sends:
        assert resend_stuck_orders() == 1
    assert len(without_live_publish(sends)) == 1
    event = stuck.events.get(kind=EventKind.STEP_RESENT)
    assert (event.data["task"], event.status) == ("inventory.reserve_stock", OrderStatus.PAID)
    with django_capture_on_commit_callbacks(execute=False):
        assert resend_stuck_orders() == 0, "touched: not stuck again before another full period"


@pytest.mark.parametrize(
    "status", [OrderStatus.PENDING_SHIPMENT, OrderStatus.COMPLETED, OrderStatus.CANCELLED]
)
def test_resend_stuck_orders_leaves_waiting_and_finished_orders_alone(settings, status):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    order = _aged(status)
    assert resend_stuck_orders() == 0
    assert not order.events.exists()


def test_resend_stuck_orders_leaves_an_order_that_moved_recently(settings):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    _aged(OrderStatus.RESERVED, minutes=1)
    assert resend_stuck_orders() == 0


def test_resend_stuck_orders_leaves_an_order_whose_step_is_retrying(settings):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    order = _aged(OrderStatus.PAYMENT_PROCESSING)
    record_step_event(order_id=str(order.public_id), kind=EventKind.STEP_RETRY, attempt=1)
    assert resend_stuck_orders() == 0


def test_resend_stuck_orders_never_resends_a_dead_lettered_order(settings):
    """Finding 1: a dead-lettered order waits for staff; a re-send would only park it again."""
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    parked = _aged(OrderStatus.PAYMENT_PROCESSING)
    Order.objects.filter(pk=parked.pk).update(
        dead_lettered_at=timezone.now() - timedelta(minutes=10)
    )
    assert resend_stuck_orders() == 0
    assert not parked.events.filter(kind=EventKind.STEP_RESENT).exists()


# --- Finding 11: ended orders whose compensation was lost ------------------------------------


def _held_by(
    order: Order, *, stock: bool = False, authorization: bool = False, booking: bool = False
) -> Order:
    """Commit, with no message sent, what a lost compensation leaves behind."""
    if stock:
        product = ProductFactory(on_hand=5, reserved=1)
        Reservation.objects.create(order=order, product=product, quantity=1)
    if authorization:
        Payment.objects.create(
            order=order,
            amount_cents=1000,
            currency="USD",
            status=PaymentStatus.AUTHORIZED,
            gateway="sandbox",
            gateway_reference=f"auth_{order.pk}",
            idempotency_key=f"{order.public_id}:payments.authorize_payment",
        )
    if booking:
        Shipment.objects.create(order=order, carrier="primary", tracking_number=f"TRK{order.pk}")
    return order


def _resent(order: Order) -> list[str] | None:
    event = order.events.filter(kind=EventKind.COMPENSATION_RESENT).first()
    return sorted(event.data["tasks"]) if event else None


def test_the_sweep_resends_only_the_compensations_each_ended_order_needs(
    settings, django_capture_on_commit_callbacks
):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    everything = _held_by(
        _aged(OrderStatus.CANCELLED), stock=True, authorization=True, booking=True
    )
    money = _held_by(_aged(OrderStatus.OUT_OF_STOCK), authorization=True)
    stock = _held_by(_aged(OrderStatus.FAILED), stock=True)
    with django_capture_on_commit_callbacks(execute=False) as sends:
        assert resend_lost_compensations() == 3
    assert len(without_live_publish(sends)) == 3
    assert _resent(everything) == [
        "inventory.release_stock",
        "payments.void_payment",
        "shipping.cancel_shipment",
    ]
    assert _resent(money) == ["payments.void_payment"]
    assert _resent(stock) == ["inventory.release_stock"]
    with django_capture_on_commit_callbacks(execute=False):
        assert resend_lost_compensations() == 0, "touched: not again before another full period"


@pytest.mark.parametrize("case", ["settled", "recent", "completed", "dead_lettered", "live"])
def test_the_sweep_leaves_orders_with_nothing_lost(settings, case):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 300
    if case == "settled":
        order = _aged(OrderStatus.CANCELLED)  # nothing held: nothing to do
    elif case == "recent":
        order = _held_by(
            _aged(OrderStatus.CANCELLED, minutes=1), authorization=True
        )  # its void may be on its way
    elif case == "completed":
        order = _held_by(
            _aged(OrderStatus.COMPLETED), booking=True
        )  # shipped and paid: keeps its parcel
    elif case == "dead_lettered":
        order = _held_by(_aged(OrderStatus.CANCELLED), authorization=True)
        Order.objects.filter(pk=order.pk).update(dead_lettered_at=timezone.now())  # staff own it
    else:
        order = _held_by(
            _aged(OrderStatus.RESERVED), stock=True, authorization=True
        )  # alive: holds by right
    assert resend_lost_compensations() == 0
    assert _resent(order) is None
