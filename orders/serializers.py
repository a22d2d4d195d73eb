"""Input and output shapes of the order API. Outputs are read-only; inputs never carry a
status, a total or a payment outcome: the server computes those."""

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from .models import Order, OrderEvent, OrderItem

MAX_LINES = 100
MAX_QUANTITY = 1000


class OrderItemInput(serializers.Serializer):
    """One line as the seed clients send it: `product_id` is the product's sku; `name` is
    accepted and ignored (the catalog names the product)."""

    product_id = serializers.CharField(max_length=64, required=False)
    sku = serializers.CharField(max_length=64, required=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    unit_price_cents = serializers.IntegerField(min_value=0, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        sku = attrs.pop("product_id", None) or attrs.get("sku")
        if not sku:
            raise serializers.ValidationError({"product_id": ["This field is required."]})
        attrs.pop("name", None)
        attrs["sku"] = sku
        return attrs


class OrderCreateInput(serializers.Serializer):
    customer_id = serializers.CharField(max_length=150, required=False, allow_null=True)
    items = OrderItemInput(many=True, allow_empty=False, max_length=MAX_LINES)
    shipping_address = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    payment_token = serializers.CharField(max_length=64, required=False, default="tok_visa")


class OrderItemOutput(serializers.ModelSerializer):
    product_id = serializers.CharField(source="sku", read_only=True)
    line_total_cents = serializers.IntegerField(read_only=True)

    class Meta:
        model = OrderItem
        fields = ("product_id", "name", "quantity", "unit_price_cents", "line_total_cents")
        read_only_fields = fields


class OrderOutput(serializers.ModelSerializer):
    order_id = serializers.UUIDField(source="public_id", read_only=True)
    customer_id = serializers.CharField(source="customer.username", read_only=True)
    items = OrderItemOutput(many=True, read_only=True)
    url = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    needs_review = serializers.BooleanField(read_only=True)

    class Meta:
        model = Order
        fields = (
            "order_id",
            "customer_id",
            "status",
            "status_reason",
            "needs_review",
            "dead_lettered_at",
            "total_cents",
            "currency",
            "items",
            "shipping_address",
            "correlation_id",
            "version",
            "created_at",
            "updated_at",
            "url",
            "links",
        )
        read_only_fields = fields

    def _absolute(self, name: str, order: Order) -> str:
        path = reverse(name, kwargs={"order_id": order.public_id})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_url(self, order: Order) -> str:
        return self._absolute("order-detail", order)

    def get_links(self, order: Order) -> dict[str, str]:
        return {
            "self": self._absolute("order-detail", order),
            "status": self._absolute("order-status", order),
            "events": self._absolute("order-events", order),
            "cancel": self._absolute("order-cancel", order),
        }


class OrderEventOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ("seq", "kind", "status", "data", "actor", "correlation_id", "created_at")
        read_only_fields = fields
