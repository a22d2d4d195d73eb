"""Every serializer of the API: outputs are read-only, inputs never take what the server
computes."""

import pytest

from inventory.serializers import ProductOutput
from orders.analytics_views import DashboardOutput
from orders.serializers import (
    OrderCreateInput,
    OrderEventOutput,
    OrderItemInput,
    OrderItemOutput,
    OrderOutput,
    OrderStatusOutput,
)
from shipping.serializers import OrderShipInput

# A quoted `unit_price_cents` is accepted only to be compared with the catalog (409 when stale).
SERVER_COMPUTED = {
    "status",
    "status_reason",
    "total_cents",
    "price_cents",
    "line_total_cents",
    "currency",
    "version",
    "payment",
    "payment_status",
    "captured_cents",
    "order_id",
    "created_at",
}


@pytest.mark.parametrize(
    "serializer",
    [
        OrderOutput,
        OrderItemOutput,
        OrderEventOutput,
        OrderStatusOutput,
        ProductOutput,
        DashboardOutput,
    ],
)
def test_output_serializers_are_read_only(serializer):
    writable = [name for name, field in serializer().fields.items() if not field.read_only]
    assert writable == []


@pytest.mark.parametrize("serializer", [OrderCreateInput, OrderItemInput, OrderShipInput])
def test_input_serializers_never_take_server_computed_fields(serializer):
    assert not SERVER_COMPUTED & set(serializer().fields)
