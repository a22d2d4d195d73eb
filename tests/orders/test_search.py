"""Staff's order search and the admin's capped count: one indexed lookup per kind of term."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from orders.selectors import order_search
from ordersite.pagination import CappedCountPaginator

from ..factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def _found(term: str) -> set[int]:
    return set(order_search(orders=Order.objects.all(), term=term).values_list("pk", flat=True))


def test_order_search_finds_by_id_sku_and_customer_and_nothing_else():
    alice, bob = (
        UserFactory(username="alice", email="alice@shop.example"),
        UserFactory(username="bob"),
    )
    widget, lamp = ProductFactory(sku="widget-1"), ProductFactory(sku="lamp-1")
    first = OrderFactory(customer=alice, lines=[(widget, 1)])
    second = OrderFactory(customer=bob, lines=[(lamp, 2)])
    assert _found(str(first.public_id)) == {first.pk}
    assert _found(str(second.correlation_id)) == {second.pk}
    assert _found("lamp-1") == {second.pk}
    assert _found("shop.example") == {first.pk}
    assert _found("BOB") == {second.pk}
    assert _found("nobody") == set()
    assert _found("  ") == {first.pk, second.pk}


def test_admin_count_is_capped_and_filtered_counts_stay_exact_below_the_cap(settings):
    settings.ADMIN_COUNT_CAP = 3
    OrderFactory.create_batch(5, status="cancelled")
    OrderFactory(status="completed")
    assert CappedCountPaginator(Order.objects.filter(status="completed"), 20).count == 1
    assert CappedCountPaginator(Order.objects.filter(status="cancelled"), 20).count == 3
    with CaptureQueriesContext(connection) as ctx:
        CappedCountPaginator(Order.objects.all(), 20).count  # noqa: B018
    assert "LIMIT 3" in ctx.captured_queries[-1]["sql"]  # never an unbounded COUNT(*)
