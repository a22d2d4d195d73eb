"""Reserving, releasing and committing stock: guarded updates, never an oversell."""

import pytest
from django.db import IntegrityError, transaction

from inventory import services
from inventory.models import Product, Reservation, ReservationStatus
from orders.models import Order
from orders.states import EventKind, OrderStatus

from ..conftest import without_live_publish
from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_reserve_stock_holds_every_line_and_moves_the_order(django_capture_on_commit_callbacks):
    a, b = ProductFactory(on_hand=5), ProductFactory(on_hand=5)
    order = OrderFactory(status=OrderStatus.PAID, lines=[(a, 2), (b, 5)])
    assert services.reserve_stock(order_id=str(order.public_id)) == "reserved"
    assert [p.reserved for p in Product.objects.order_by("pk")] == [2, 5]
    order.refresh_from_db()
    assert order.status == OrderStatus.RESERVED
    assert order.events.last().kind == EventKind.STOCK_RESERVED


def test_reserve_stock_is_all_or_nothing_when_one_line_is_short(django_capture_on_commit_callbacks):
    a, b = ProductFactory(on_hand=5), ProductFactory(on_hand=1)
    order = OrderFactory(status=OrderStatus.PAID, lines=[(a, 2), (b, 2)])
    with django_capture_on_commit_callbacks(execute=False) as compensation:
        assert services.reserve_stock(order_id=str(order.public_id)) == "out_of_stock"
    assert [p.reserved for p in Product.objects.order_by("pk")] == [0, 0]
    assert not Reservation.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.OUT_OF_STOCK
    event = order.events.last()
    assert (event.kind, event.data["sku"], event.data["available"]) == (
        EventKind.STOCK_UNAVAILABLE,
        b.sku,
        1,
    )
    assert len(without_live_publish(compensation)) == 1, (
        "voiding the authorization is sent on commit"
    )


def test_reserve_stock_twice_changes_nothing_the_second_time():
    product = ProductFactory(on_hand=5)
    order = OrderFactory(status=OrderStatus.PAID, lines=[(product, 3)])
    services.reserve_stock(order_id=str(order.public_id))
    assert services.reserve_stock(order_id=str(order.public_id)).startswith("skipped")
    product.refresh_from_db()
    assert product.reserved == 3


def test_release_stock_gives_units_back_once():
    product = ProductFactory(on_hand=5)
    order = OrderFactory(status=OrderStatus.PAID, lines=[(product, 3)])
    services.reserve_stock(order_id=str(order.public_id))
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.CANCELLED
    )  # only an order given up is released
    services.release_stock(order_id=str(order.public_id))
    services.release_stock(order_id=str(order.public_id))
    product.refresh_from_db()
    assert (product.on_hand, product.reserved) == (5, 0)
    assert Reservation.objects.get().status == ReservationStatus.RELEASED
    assert Order.objects.get().events.filter(kind=EventKind.STOCK_RELEASED).count() == 1


def test_commit_stock_takes_units_off_the_shelf():
    product = ProductFactory(on_hand=5)
    order = OrderFactory(status=OrderStatus.PAID, lines=[(product, 3)])
    services.reserve_stock(order_id=str(order.public_id))
    with transaction.atomic():
        services.commit_stock(order_pk=order.pk)
    product.refresh_from_db()
    assert (product.on_hand, product.reserved) == (2, 0)
    assert Reservation.objects.get().status == ReservationStatus.COMMITTED


def test_the_database_itself_refuses_reserving_beyond_on_hand():
    product = ProductFactory(on_hand=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.filter(pk=product.pk).update(reserved=2)
