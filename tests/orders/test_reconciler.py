"""The stuck-order reconciler: which orders it re-sends, and that it waits a full period again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services_recovery import resend_stuck_orders
from orders.states import EventKind, OrderStatus
from orders.timeline import record_step_event

from ..factories import OrderFactory

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
    assert len(sends) == 1
    event = stuck.events.get(kind=EventKind.STEP_RESENT)
    assert (event.data["task"], event.status) == ("inventory.reserve_stock", OrderStatus.PAID)
    with django_capture_on_commit_callbacks(execute=False):
        assert resend_stuck_orders() == 0, "touched: not stuck again before another full period"


@pytest.mark.parametrize("status", [OrderStatus.PENDING_SHIPMENT, OrderStatus.COMPLETED, OrderStatus.CANCELLED])
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
    Order.objects.filter(pk=parked.pk).update(dead_lettered_at=timezone.now() - timedelta(minutes=10))
    assert resend_stuck_orders() == 0
    assert not parked.events.filter(kind=EventKind.STEP_RESENT).exists()
