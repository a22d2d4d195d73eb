"""ordersite.compiled: a hot read compiled once answers exactly as the ORM's own query would,
for every call after the first, on any thread."""

import threading
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from orders import selectors
from orders.models import Order, OrderEvent, OrderItem
from orders.states import EventKind
from ordersite.compiled import CompiledRead

from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = CompiledRead(lambda order_pk: OrderItem.objects.filter(order_id=order_pk).order_by("sku"))


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_rows_equal_the_orms_for_every_call_with_one_statement_each(django_assert_num_queries):
    orders = [OrderFactory(lines=[(ProductFactory(), 2), (ProductFactory(), 1)]) for _ in range(3)]
    for order in orders:  # the first call compiles, the others reuse its SQL
        with django_assert_num_queries(1):
            items = ITEMS(order.pk)
        expected = list(OrderItem.objects.filter(order_id=order.pk).order_by("sku"))
        assert [_fields(i) for i in items] == [_fields(i) for i in expected]
        assert all(not i._state.adding and i._state.db == "default" for i in items)
    assert ITEMS(-1) == []


def test_converted_columns_and_select_related_come_back_as_the_orm_gives_them():
    order = OrderFactory(shipping_address={"line1": "1 Main St", "city": "Ghent"})
    OrderEvent.objects.create(
        order=order,
        seq=1,
        kind=EventKind.ORDER_CREATED,
        status=order.status,
        data={"n": 1},
        correlation_id=order.correlation_id,
    )
    read = CompiledRead(
        lambda public_id: (
            OrderEvent.objects.select_related("order__customer")
            .filter(order__public_id=public_id)
            .order_by("seq")
        )
    )
    for _ in range(2):
        events = read(order.public_id)
        assert events
        assert events[0].data == {"n": 1}
        assert events[0].order.shipping_address == {  # a JSON column, decoded
            "line1": "1 Main St",
            "city": "Ghent",
        }
        with connections["default"].execute_wrapper(_no_query):
            assert events[0].order.customer.email == order.customer.email  # no query for it
        assert _fields(events[0].order) == _fields(Order.objects.get(pk=order.pk))


def _no_query(*args):
    raise AssertionError("a query ran")


def test_a_read_compiled_on_one_thread_runs_on_another_threads_connection():
    orders = [OrderFactory(), OrderFactory()]
    selectors.order_for_step(order_id=str(orders[0].public_id))  # compiled here, maybe already
    found = []

    def read() -> None:
        try:
            found.append(selectors.order_for_step(order_id=str(orders[1].public_id)).pk)
        finally:
            connections.close_all()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert found == [orders[1].pk]


def test_the_step_selectors_keep_the_orms_answers_for_what_is_missing_or_malformed():
    with pytest.raises(Order.DoesNotExist):
        selectors.order_for_step(order_id=str(uuid.uuid4()))
    assert selectors.order_by_public_id(order_id="not-a-uuid") is None
    assert selectors.order_event(order_id="not-a-uuid", seq=1) is None


def test_parameters_that_are_not_the_arguments_are_refused_at_the_first_call():
    as_string = CompiledRead(lambda public_id: Order.objects.filter(public_id=public_id))
    with pytest.raises(ImproperlyConfigured, match="parameters must be its arguments"):
        as_string(str(uuid.uuid4()))  # the ORM would pass a UUID: the SQL would not line up
    counted = CompiledRead(lambda pk: Order.objects.filter(pk=pk).extra(select={"n": "1"}))
    with pytest.raises(ImproperlyConfigured, match="model columns only"):
        counted(1)


def test_two_arguments_the_query_takes_in_another_order_are_refused_even_when_equal():
    """Equal values at the first call cannot hide which parameter is which argument."""
    swapped = CompiledRead(
        lambda seq, pk: OrderEvent.objects.filter(order_id=pk).filter(seq=seq).order_by("id")
    )
    with pytest.raises(ImproperlyConfigured, match="in order"):
        swapped(1, 1)
