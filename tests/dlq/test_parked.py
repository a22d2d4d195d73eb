"""What is parked for an order follows the order (finding 1): an order that reaches an end
resolves the entries of steps it no longer waits at, and an entry born for a step the order has
already left is resolved at once instead of flagging it for review."""

import pytest
from django.db import transaction

from deadletters import capture, store
from deadletters.envelope import Envelope
from inventory import services as inventory_services
from orders import services
from orders.models import Order
from orders.states import EventKind, OrderStatus
from payments import services as payment_services
from shipping import services as shipping_services

from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _park(order: Order, task: str) -> Envelope:
    """What StepTask.on_failure does when a step of `order` gives up for good."""
    order_id = str(order.public_id)
    envelope = Envelope(
        task=task,
        args=[order_id],
        order_id=order_id,
        exc_type="GatewayUnavailableError",
        exc_message="down",
    )
    capture.park(envelope)
    return envelope


def _live_ids(order: Order) -> list[str]:
    return [e.id for e in store.matching(store.Filters(order_id=str(order.public_id)))]


def test_an_order_that_completes_resolves_its_parked_step(
    redis_client, faults, django_capture_on_commit_callbacks
):
    """Payments came back and the order completed (here: its steps run in-process against the
    sandboxes): the authorize entry leaves the live DLQ as soon as the order is past that step,
    and the order no longer needs review."""
    order = OrderFactory(status=OrderStatus.PENDING, lines=[(ProductFactory(), 1)])
    order_id = str(order.public_id)
    entry = _park(order, "payments.authorize_payment")
    assert Order.objects.get(pk=order.pk).needs_review
    assert _live_ids(order) == [entry.id]

    with django_capture_on_commit_callbacks(execute=True):
        assert payment_services.authorize_payment(order_id=order_id) == "authorized"
        assert inventory_services.reserve_stock(order_id=order_id) == "reserved"
        assert shipping_services.create_shipment(order_id=order_id) == "shipped"
        assert payment_services.capture_payment(order_id=order_id) == "captured"

    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.COMPLETED, False)
    assert _live_ids(order) == []
    resolved = order.events.get(kind=EventKind.DEAD_LETTER_RESOLVED)
    assert (resolved.data["entry_ids"], resolved.data["tasks"]) == (
        [entry.id],
        ["payments.authorize_payment"],
    )
    assert resolved.status == OrderStatus.PAID


def test_a_cancelled_order_resolves_its_parked_step(
    redis_client, django_capture_on_commit_callbacks
):
    order = OrderFactory(status=OrderStatus.PAID)
    entry = _park(order, "inventory.reserve_stock")
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_order(order=Order.objects.get(pk=order.pk), actor="cust")
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.CANCELLED, False)
    assert store.dead_letter_count() == 0
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.ORDER_CANCELLED, EventKind.DEAD_LETTER_RESOLVED]
    assert order.events.get(kind=EventKind.DEAD_LETTER_RESOLVED).data["entry_ids"] == [entry.id]


def test_an_order_that_moves_past_its_parked_step_resolves_it(
    redis_client, faults, django_capture_on_commit_callbacks
):
    """A late copy of the step (a redelivery) got through after the entry was parked: the order
    no longer waits at that step, so the entry is resolved, not left for staff to trip over."""
    order = OrderFactory(status=OrderStatus.PAYMENT_PROCESSING, lines=[(ProductFactory(), 1)])
    entry = _park(order, "payments.authorize_payment")
    with django_capture_on_commit_callbacks(execute=True):
        assert payment_services.authorize_payment(order_id=str(order.public_id)) == "authorized"
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PAID, False)
    assert _live_ids(order) == []
    assert order.events.get(kind=EventKind.DEAD_LETTER_RESOLVED).data["entry_ids"] == [entry.id]


def test_an_entry_the_order_still_needs_stays_when_the_order_moves(
    redis_client, django_capture_on_commit_callbacks
):
    """A parked call-back of a stray carrier booking is not about the order's status: it stays."""
    order = OrderFactory(status=OrderStatus.SHIPPED)
    stray = _park(order, "shipping.cancel_stray_booking")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.transition_order(
            Order.objects.get(pk=order.pk), OrderStatus.COMPLETED, kind=EventKind.ORDER_COMPLETED
        )
    assert Order.objects.get(pk=order.pk).needs_review
    assert _live_ids(order) == [stray.id]
    assert not order.events.filter(kind=EventKind.DEAD_LETTER_RESOLVED).exists()


def test_a_dead_letter_for_a_step_the_order_already_left_is_resolved_at_once(
    redis_client, django_capture_on_commit_callbacks
):
    """A duplicate copy of a step gave up after the other copy finished the order: nothing waits."""
    order = OrderFactory(status=OrderStatus.COMPLETED)
    with django_capture_on_commit_callbacks(execute=True):
        entry = _park(order, "payments.authorize_payment")
    order.refresh_from_db()
    assert not order.needs_review
    assert store.dead_letter_count() == 0
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds == [EventKind.DEAD_LETTERED, EventKind.DEAD_LETTER_RESOLVED]
    assert order.events.get(kind=EventKind.DEAD_LETTER_RESOLVED).data["entry_ids"] == [entry.id]


def test_a_parked_compensation_of_a_finished_order_stays_for_staff(
    redis_client, django_capture_on_commit_callbacks
):
    """A void that gave up on a cancelled order still has money to give back: it waits."""
    order = OrderFactory(status=OrderStatus.CANCELLED)
    with django_capture_on_commit_callbacks(execute=True):
        entry = _park(order, "payments.void_payment")
    assert Order.objects.get(pk=order.pk).needs_review
    assert _live_ids(order) == [entry.id]


def test_the_same_step_failing_again_flags_the_order_without_a_second_entry(redis_client):
    order = OrderFactory(status=OrderStatus.PAYMENT_PROCESSING)
    first = _park(order, "payments.authorize_payment")
    second = _park(order, "payments.authorize_payment")
    assert second.id == first.id
    assert _live_ids(order) == [first.id]
    assert [e.data["entry_id"] for e in order.events.filter(kind=EventKind.DEAD_LETTERED)] == [
        first.id,
        first.id,
    ]
