"""Finding 2: staff actions on an entry the order has moved past. An entry is current only while
its order still waits at the entry's step; discarding a stale one only removes it (no failed
order, no void, no release), and replaying one is refused with 409 dead_letter_stale."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from deadletters import services as dlq_services
from deadletters import store
from deadletters.exceptions import DeadLetterStaleError
from inventory.models import Reservation, ReservationStatus
from orders.models import Order
from orders.states import EventKind, OrderStatus
from ordersite.queues import Queue
from payments.models import Payment, PaymentStatus

from ..conftest import without_live_publish
from ..factories import OrderFactory, ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _recovered_order() -> Order:
    """An order whose authorize step was dead-lettered, then got through some other way: it is
    reserved now, with its authorization and its stock held."""
    product = ProductFactory(on_hand=5)
    order = OrderFactory(
        status=OrderStatus.RESERVED, lines=[(product, 2)], dead_lettered_at=timezone.now()
    )
    Payment.objects.create(
        order=order,
        amount_cents=order.total_cents,
        currency="USD",
        status=PaymentStatus.AUTHORIZED,
        gateway="sandbox",
        gateway_reference="auth_x",
        idempotency_key=f"{order.public_id}:payments.authorize_payment",
    )
    Reservation.objects.create(order=order, product=product, quantity=2)
    product.reserved = 2
    product.save()
    return order


@pytest.fixture
def reviewer() -> APIClient:
    user = StaffFactory()
    user.user_permissions.add(Permission.objects.get(codename="review_dead_letters"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_discarding_a_stale_entry_only_removes_it(
    redis_client, make_entry, django_capture_on_commit_callbacks
):
    order = _recovered_order()
    entry = make_entry(args=[str(order.public_id)], task="payments.authorize_payment")
    with django_capture_on_commit_callbacks(execute=False) as sent:
        dlq_services.discard_dead_letter(entry_id=entry.id, actor="ops", reason="looks old")
    assert without_live_publish(sent) == [], "no compensation is sent for an order that moved on"
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.RESERVED, False)
    assert Payment.objects.get(order=order).status == PaymentStatus.AUTHORIZED
    assert Reservation.objects.get(order=order).status == ReservationStatus.HELD
    event = order.events.get(kind=EventKind.DEAD_LETTER_DISCARDED)
    assert (event.data["stale"], event.data["reason"], event.status) == (
        True,
        "looks old",
        OrderStatus.RESERVED,
    )
    assert not order.events.filter(kind=EventKind.ORDER_FAILED).exists()
    assert store.dead_letter_count() == 0


def test_discarding_a_current_entry_fails_the_order_and_compensates(
    redis_client, make_entry, django_capture_on_commit_callbacks
):
    order = _recovered_order()
    entry = make_entry(
        args=[str(order.public_id)], task="shipping.create_shipment", queue=Queue.SHIPPING
    )
    with django_capture_on_commit_callbacks(execute=False) as sent:
        dlq_services.discard_dead_letter(
            entry_id=entry.id, actor="ops", reason="carrier refuses it"
        )
    assert len(without_live_publish(sent)) == 1, "the compensations are sent after commit"
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.FAILED, False)
    assert order.events.get(kind=EventKind.DEAD_LETTER_DISCARDED).data["stale"] is False


def test_replaying_a_stale_entry_is_refused_and_keeps_it(redis_client, make_entry, reviewer):
    order = _recovered_order()
    entry = make_entry(args=[str(order.public_id)], task="payments.authorize_payment")
    with pytest.raises(DeadLetterStaleError) as refused:
        dlq_services.replay_dead_letter(entry_id=entry.id, actor="ops")
    assert refused.value.data == {
        "entry_id": entry.id,
        "task": "payments.authorize_payment",
        "order_id": str(order.public_id),
        "current_status": OrderStatus.RESERVED,
    }
    answer = reviewer.post(f"/api/v1/dlq/{entry.id}/replay/")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "dead_letter_stale")
    assert store.get(entry.id).id == entry.id, "still there, to be discarded"
    assert not order.events.filter(kind=EventKind.DEAD_LETTER_REPLAYED).exists()


def test_replaying_the_entry_of_an_order_cancelled_meanwhile_is_refused(redis_client, make_entry):
    order = OrderFactory(status=OrderStatus.CANCELLED)
    entry = make_entry(args=[str(order.public_id)], task="payments.authorize_payment")
    with pytest.raises(DeadLetterStaleError):
        dlq_services.replay_dead_letter(entry_id=entry.id, actor="ops")
    sent, problems = dlq_services.replay_many(entry_ids=[entry.id], actor="ops")
    assert (sent, len(problems)) == (0, 1)
    assert "cancelled" in problems[0]


def test_discarding_one_of_two_parked_steps_keeps_the_order_flagged(redis_client, make_entry):
    """needs_review holds while any current entry of the order waits."""
    order = OrderFactory(status=OrderStatus.SHIPPED, dead_lettered_at=timezone.now())
    make_entry(args=[str(order.public_id)], task="payments.capture_payment", queue=Queue.ORDERS)
    stray = make_entry(
        args=[str(order.public_id)], task="shipping.cancel_stray_booking", queue=Queue.SHIPPING
    )
    dlq_services.discard_dead_letter(entry_id=stray.id, actor="ops", reason="handled by phone")
    assert Order.objects.get(pk=order.pk).needs_review
