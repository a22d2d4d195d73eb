"""Order services against the real database: pricing, events, transitions, conflicts."""

import pytest
from django.db import transaction
from django.db.models import F

from orders import services
from orders.exceptions import (
    InvalidTransitionError,
    MixedCurrencyError,
    StalePriceError,
    UnknownProductError,
)
from orders.models import Order
from orders.states import EventKind, OrderStatus
from ordersite.errors import ConflictError

from ..conftest import without_live_publish
from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_place_order_prices_every_line_from_the_catalog(
    customer, django_capture_on_commit_callbacks
):
    widget = ProductFactory(sku="prod-1", price_cents=1250)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        order, created = services.place_order(
            customer=customer, items=[{"sku": "prod-1", "quantity": 2}]
        )
    assert created
    assert order.total_cents == 2500
    assert order.status == OrderStatus.PENDING
    assert [(i.sku, i.quantity, i.unit_price_cents) for i in order.items.all()] == [
        ("prod-1", 2, widget.price_cents)
    ]
    assert list(order.events.values_list("seq", "kind")) == [(1, EventKind.ORDER_CREATED)]
    assert len(without_live_publish(callbacks)) == 1, "the pipeline is sent once, after commit"


def test_place_order_merges_duplicate_skus(customer, django_capture_on_commit_callbacks):
    ProductFactory(sku="prod-1", price_cents=100)
    with django_capture_on_commit_callbacks(execute=False):
        order, _ = services.place_order(
            customer=customer,
            items=[{"sku": "prod-1", "quantity": 2}, {"sku": "prod-1", "quantity": 3}],
        )
    assert [(i.sku, i.quantity) for i in order.items.all()] == [("prod-1", 5)]
    assert order.total_cents == 500


def test_place_order_rejects_a_stale_price_and_writes_nothing(customer):
    ProductFactory(sku="prod-1", price_cents=1200)
    with pytest.raises(StalePriceError) as err:
        services.place_order(
            customer=customer, items=[{"sku": "prod-1", "quantity": 1, "unit_price_cents": 1000}]
        )
    assert err.value.data["current_unit_price_cents"] == 1200
    assert not Order.objects.exists()


def test_place_order_rejects_unknown_skus_and_writes_nothing(customer):
    with pytest.raises(UnknownProductError) as err:
        services.place_order(customer=customer, items=[{"sku": "nope", "quantity": 1}])
    assert err.value.data["skus"] == ["nope"]
    assert not Order.objects.exists()


def test_transition_order_moves_status_and_writes_its_event_together():
    order = OrderFactory()
    with transaction.atomic():
        services.transition_order(
            order, OrderStatus.PAYMENT_PROCESSING, kind=EventKind.PAYMENT_STARTED
        )
    order.refresh_from_db()
    assert (order.status, order.version) == (OrderStatus.PAYMENT_PROCESSING, 2)
    assert list(order.events.values_list("kind", "status")) == [
        (EventKind.PAYMENT_STARTED, "payment_processing")
    ]


def test_transition_order_refuses_an_illegal_move():
    order = OrderFactory(status=OrderStatus.PENDING)
    with pytest.raises(InvalidTransitionError), transaction.atomic():
        services.transition_order(order, OrderStatus.SHIPPED, kind=EventKind.ORDER_SHIPPED)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert not order.events.exists()


def test_transition_order_with_a_stale_version_is_a_conflict_not_a_lost_update():
    order = OrderFactory(status=OrderStatus.PAID)
    stale = Order.objects.get(pk=order.pk)
    with transaction.atomic():
        services.transition_order(order, OrderStatus.CANCELLED, kind=EventKind.ORDER_CANCELLED)
    with pytest.raises(ConflictError), transaction.atomic():
        services.transition_order(stale, OrderStatus.RESERVED, kind=EventKind.STOCK_RESERVED)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert list(order.events.values_list("kind", flat=True)) == [EventKind.ORDER_CANCELLED]


@pytest.mark.django_db(transaction=True)
def test_transition_order_must_run_inside_a_transaction():
    order = OrderFactory()
    with pytest.raises(AssertionError, match="inside a transaction"):
        services.transition_order(order, OrderStatus.CANCELLED, kind=EventKind.ORDER_CANCELLED)


def test_place_order_refuses_a_mixed_currency_order_and_writes_nothing(customer):
    """Finding 12: lines priced in two currencies cannot be summed into one total."""
    ProductFactory(sku="usd", price_cents=1000, currency="USD")
    ProductFactory(sku="eur", price_cents=900, currency="EUR")
    with pytest.raises(MixedCurrencyError) as err:
        services.place_order(
            customer=customer, items=[{"sku": "usd", "quantity": 1}, {"sku": "eur", "quantity": 1}]
        )
    assert (err.value.code, err.value.http_status) == ("mixed_currency", 400)
    assert err.value.data["currencies"] == {"usd": "USD", "eur": "EUR"}
    assert not Order.objects.exists()


def _race_on_read(monkeypatch, times: int) -> None:
    """A pipeline step's compare-and-swap lands between the cancel's read and its write, `times`
    times (a real UPDATE of the version, inside the cancel's own transaction)."""
    read = services.order_for_step
    left = [times]

    def read_then_a_step_moves_it(**kwargs):
        order = read(**kwargs)
        if left[0]:
            left[0] -= 1
            Order.objects.filter(pk=order.pk).update(version=F("version") + 1)
        return order

    monkeypatch.setattr(services, "order_for_step", read_then_a_step_moves_it)


def test_a_cancel_that_loses_a_race_to_a_step_reads_the_order_again_and_wins(
    monkeypatch, django_capture_on_commit_callbacks
):
    order = OrderFactory(status=OrderStatus.PAID)
    _race_on_read(monkeypatch, times=services.CANCEL_ATTEMPTS - 1)
    with django_capture_on_commit_callbacks(execute=False):
        services.cancel_order(order=Order.objects.get(pk=order.pk), actor="cust")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.events.filter(kind=EventKind.ORDER_CANCELLED).count() == 1


def test_a_cancel_that_keeps_losing_says_conflict_and_changes_nothing(monkeypatch):
    order = OrderFactory(status=OrderStatus.PAID)
    _race_on_read(monkeypatch, times=services.CANCEL_ATTEMPTS)
    with pytest.raises(ConflictError):
        services.cancel_order(order=Order.objects.get(pk=order.pk), actor="cust")
    order.refresh_from_db()
    assert (order.status, order.cancel_requested_at) == (OrderStatus.PAID, None)


def test_a_transition_and_its_event_are_one_statement_and_the_event_is_as_stored(
    django_assert_num_queries,
):
    order = OrderFactory(status=OrderStatus.PAID)
    version, seq = order.version, order.last_event_seq
    with transaction.atomic(), django_assert_num_queries(1):
        services.transition_order(
            order, OrderStatus.RESERVED, kind=EventKind.STOCK_RESERVED, actor="t", lines=[1]
        )
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.version, stored.last_event_seq) == (
        OrderStatus.RESERVED,
        version + 1,
        seq + 1,
    )
    assert (order.status, order.version, order.last_event_seq) == (
        stored.status,
        stored.version,
        stored.last_event_seq,
    )
    event = stored.events.get(seq=seq + 1)
    assert (event.kind, event.status, event.actor, event.data) == (
        EventKind.STOCK_RESERVED,
        OrderStatus.RESERVED,
        "t",
        {"lines": [1]},
    )
    assert event.correlation_id == stored.correlation_id


def test_an_event_without_a_change_is_numbered_and_written_in_one_statement(
    django_assert_num_queries,
):
    order = OrderFactory(status=OrderStatus.SHIPPED)
    seq = order.last_event_seq
    with transaction.atomic(), django_assert_num_queries(1):
        written = services.record_event(order, EventKind.PAYMENT_CAPTURED, amount_cents=5)
    assert (written.seq, written.status) == (seq + 1, OrderStatus.SHIPPED)
    stored = order.events.get(pk=written.pk)
    assert (stored.seq, stored.status, stored.data) == (seq + 1, "shipped", {"amount_cents": 5})
