"""Serializer fields built once per class (ordersite/serializer_fields.py) answer exactly as DRF's
fields built per instance do, and no two serializers share a bound field."""

import pytest
from django.db import transaction
from django.urls import reverse, set_script_prefix
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from orders.models import Order
from orders.serializers import (
    OrderEventOutput,
    OrderOutput,
    OrderStatusOutput,
    _order_path,
    _order_path_template,
)
from orders.services import record_event
from orders.states import EventKind
from ordersite.serializer_fields import FieldsBuiltOnce

from ..factories import OrderFactory, ProductFactory

ORDER_LINKS = (
    "order-detail",
    "order-status",
    "order-events",
    "order-cancel",
    "order-ship",
    "order-deliver",
    "order-returns",
    "order-refunds",
)


def _built_per_instance(serializer: type) -> type:
    """The same serializer with DRF's own get_fields, as it was before the mixin."""

    def get_fields(self):
        return super(FieldsBuiltOnce, self).get_fields()

    return type(f"PerInstance{serializer.__name__}", (serializer,), {"get_fields": get_fields})


def _request(user) -> Request:
    request = Request(APIRequestFactory().get("/api/v1/orders/"))
    request.user = user
    return request


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["customer", "staff"])
def test_an_order_answers_as_with_fields_built_per_instance(who, customer, staff):
    order = OrderFactory(customer=customer, lines=[(ProductFactory(), 2), (ProductFactory(), 1)])
    order = Order.objects.select_related("customer").prefetch_related("items").get(pk=order.pk)
    context = {"request": _request(customer if who == "customer" else staff)}
    for serializer in (OrderOutput, OrderStatusOutput):
        expected = _built_per_instance(serializer)(order, context=context).data
        assert serializer(order, context=context).data == expected
        assert serializer(order, context=context).data == expected  # and again, from the copies
    with transaction.atomic():
        record_event(order, EventKind.ORDER_CANCELLED, actor="test", reason="Changed my mind.")
    events = list(order.events.all())
    assert events
    many = {"many": True, "context": context}
    assert (
        OrderEventOutput(events, **many).data
        == _built_per_instance(OrderEventOutput)(events, **many).data
    )


def test_each_serializer_binds_fields_of_its_own():
    first, second = OrderOutput(), OrderOutput()
    for name in ("order_id", "status", "items", "url"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second
    assert first.fields["items"].child is not second.fields["items"].child
    # ... copied from the class's fields, built once, never bound themselves
    templates = OrderOutput.__dict__["_fields_built_once"]
    assert type(first.fields["status"]) is type(templates["status"])
    assert first.fields["status"] is not templates["status"]
    assert getattr(templates["status"], "field_name", None) is None
    assert list(first.fields) == list(_built_per_instance(OrderOutput)().fields)


def test_a_dict_fields_child_is_its_own():
    first, second = OrderEventOutput(), OrderEventOutput()
    assert first.fields["data"] is not second.fields["data"]
    assert first.fields["data"].child.parent is first.fields["data"]


@pytest.mark.parametrize("prefix", ["/", "/shop/"])
def test_an_orders_links_are_the_paths_reverse_gives(prefix):
    order_id = "1f0e2d3c-4b5a-4968-8776-655443322110"
    set_script_prefix(prefix)
    try:
        _order_path("order-detail", order_id)
        hits = _order_path_template.cache_info().hits
        _order_path("order-detail", order_id)
        assert _order_path_template.cache_info().hits == hits + 1  # reversed once, then reused
        for name in ORDER_LINKS:
            expected = reverse(name, kwargs={"order_id": order_id})
            assert _order_path(name, order_id) == expected
            assert expected.startswith(f"{prefix}api/")
    finally:
        set_script_prefix("/")
