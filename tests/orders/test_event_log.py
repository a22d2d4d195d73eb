"""The event log as the source of truth: the timeline is append-only in the database, and the
fold of orders/replay.py rebuilds an order's state from its events alone."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection, transaction

from orders.models import Order, OrderEvent
from orders.replay import OrderState, PaymentState, ReturnState, ShipmentState, differences, replay
from orders.states import EventKind as K
from orders.timeline import record_event

from ..factories import OrderFactory

pytestmark = pytest.mark.django_db


def _event() -> OrderEvent:
    order = OrderFactory()
    with transaction.atomic():
        return record_event(order, K.ORDER_CREATED, total_cents=0, currency="USD", items=[])


def _raw(sql: str, event: OrderEvent) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])


CHANGES = {
    "orm update": lambda e: OrderEvent.objects.filter(pk=e.pk).update(kind=K.ORDER_FAILED),
    "orm save": lambda e: (setattr(e, "data", {"total_cents": 1}), e.save()),
    "orm delete": lambda e: e.delete(),
    "raw update": lambda e: _raw("UPDATE orders_orderevent SET data = '{}' WHERE id = %s", e),
    "raw delete": lambda e: _raw("DELETE FROM orders_orderevent WHERE id = %s", e),
    "order delete (cascade)": lambda e: Order.objects.filter(pk=e.order_id).delete(),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_events_are_never_updated_or_deleted_whoever_asks(change):
    event = _event()
    with (
        pytest.raises(IntegrityError, match="orders_orderevent is append-only"),
        transaction.atomic(),
    ):
        change(event)
    stored = OrderEvent.objects.get(pk=event.pk)
    assert (stored.kind, stored.data) == (
        K.ORDER_CREATED,
        {"total_cents": 0, "currency": "USD", "items": []},
    )
    assert Order.objects.filter(pk=event.order_id).exists()


def test_an_event_is_still_appended():
    event = _event()
    with transaction.atomic():
        record_event(event.order, K.CANCEL_REQUESTED)
    assert list(OrderEvent.objects.filter(order=event.order).values_list("seq", flat=True)) == [
        1,
        2,
    ]


# --- the fold -------------------------------------------------------------------------------------
PLACED = (1, K.ORDER_CREATED, "pending", {"total_cents": 3000, "currency": "USD", "items": []})
DELIVERED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_replay_rebuilds_a_completed_delivered_partly_refunded_order():
    state = replay(
        [
            PLACED,
            (2, K.PAYMENT_STARTED, "payment_processing", {}),
            (3, K.PAYMENT_AUTHORIZED, "paid", {"amount_cents": 3000, "reference": "auth_1"}),
            (4, K.STEP_RETRY, "paid", {"task": "inventory.reserve_stock"}),
            (5, K.STOCK_RESERVED, "reserved", {"lines": []}),
            (6, K.ORDER_SHIPPED, "shipped", {"carrier": "primary", "tracking_number": "TRK1"}),
            (7, K.PAYMENT_CAPTURED, "shipped", {"amount_cents": 3000}),
            (8, K.ORDER_COMPLETED, "completed", {}),
            (9, K.ORDER_DELIVERED, "delivered", {"delivered_at": DELIVERED_AT.isoformat()}),
            (10, K.REFUND_REQUESTED, "delivered", {"amount_cents": 500}),
            (11, K.REFUND_REQUESTED, "delivered", {"amount_cents": 700}),
            (
                12,
                K.PAYMENT_REFUNDED,
                "partially_refunded",
                {"amount_cents": 500, "refunded_cents": 500},
            ),
            (13, K.REFUND_ABANDONED, "partially_refunded", {"amount_cents": 700}),
            (14, K.NOTIFICATION_SENT, "partially_refunded", {"notification": "shipped"}),
        ]
    )
    assert state == OrderState(
        status="partially_refunded",
        total_cents=3000,
        currency="USD",
        refunded_cents=500,
        delivered_at=DELIVERED_AT,
        payment=PaymentState("partially_refunded", 3000, captured_cents=2500, refunded_cents=500),
        shipment=ShipmentState("primary", "TRK1", "created", DELIVERED_AT),
    )


def test_replay_rebuilds_an_order_cancelled_while_its_gateways_answered():
    """The authorization and the booking landed after the cancel: each has its event, then its
    undo."""
    state = replay(
        [
            PLACED,
            (2, K.ORDER_CANCELLED, "cancelled", {"reason": "Cancelled on request."}),
            (3, K.PAYMENT_AUTHORIZED, "cancelled", {"amount_cents": 3000}),
            (
                4,
                K.SHIPMENT_CREATED,
                "cancelled",
                {"carrier": "fallback", "tracking_number": "TRK2"},
            ),
            (5, K.PAYMENT_VOIDED, "cancelled", {"amount_cents": 3000}),
            (
                6,
                K.SHIPMENT_CANCELLED,
                "cancelled",
                {"carrier": "fallback", "tracking_number": "TRK2"},
            ),
        ]
    )
    assert state.status == "cancelled"
    assert state.payment == PaymentState("voided", 3000, voided_cents=3000)
    assert state.shipment == ShipmentState("fallback", "TRK2", "cancelled")
    assert state.log_problems == []


def test_differences_name_each_field_that_disagrees_and_moves_the_state_machine_refuses():
    replayed = replay([PLACED, (2, K.ORDER_COMPLETED, "completed", {})])
    stored = OrderState(
        status="pending", total_cents=2999, currency="USD", payment=PaymentState("authorized", 1)
    )
    assert differences(stored, replayed) == [
        "event #2 (order_completed) moves pending -> completed, which TRANSITIONS refuse",
        "status: stored 'pending', events 'completed'",
        "total_cents: stored 2999, events 3000",
        "payment: the tables hold one, the events none",
    ]
    assert differences(stored, OrderState()) == ["no events"]


def test_replay_follows_each_return_to_its_refund():
    state = replay(
        [
            PLACED,
            (2, K.ORDER_COMPLETED, "completed", {}),  # (the moves between are not the point here)
            (
                3,
                K.RETURN_REQUESTED,
                "completed",
                {"return_id": "r1", "amount_cents": 1000, "lines": []},
            ),
            (
                4,
                K.RETURN_REQUESTED,
                "completed",
                {"return_id": "r2", "amount_cents": 500, "lines": []},
            ),
            (5, K.RETURN_REFUSED, "completed", {"return_id": "r2", "amount_cents": 500}),
            (6, K.RETURN_APPROVED, "completed", {"return_id": "r1", "amount_cents": 1000}),
            (7, K.RETURN_RECEIVED, "completed", {"return_id": "r1", "lines": []}),
            (8, K.PAYMENT_REFUNDED, "completed", {"return_id": "r1", "amount_cents": 1000}),
        ]
    )
    assert state.returns == {"r1": ReturnState("refunded", 1000), "r2": ReturnState("refused", 500)}
