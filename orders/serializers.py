"""Input and output shapes of the order API. Outputs are read-only; inputs never carry a
status, a total or a payment outcome: the server computes those."""

import functools
from typing import Any

from django.urls import get_script_prefix, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ordersite.serializer_fields import FieldsBuiltOnce

from . import visibility
from .models import Order, OrderItem
from .states import EventKind, OrderStatus

MAX_LINES = 100
MAX_QUANTITY = 1000
MAX_ADDRESS_KEYS = 20
MAX_ADDRESS_KEY_LENGTH = 40
MAX_ADDRESS_VALUE_LENGTH = 200


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": MAX_ADDRESS_KEYS,
        "additionalProperties": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_ADDRESS_VALUE_LENGTH,
        },
        "description": (
            f"Free-form strings (name, line1, city…): at most {MAX_ADDRESS_KEYS} keys of 1 to "
            f"{MAX_ADDRESS_KEY_LENGTH} characters, no nested objects or lists."
        ),
    }
)
class ShippingAddressField(serializers.DictField):
    """A flat object of a few short strings, stored as JSON with the order. Keys are checked like
    the values (length, no NUL, no lone surrogate: PostgreSQL's jsonb refuses both, which used
    to be a 500 after validation passed); a key's error is not keyed by the key itself, since a
    bad key cannot be echoed back as JSON."""

    default_error_messages = {
        "max_keys": f"At most {MAX_ADDRESS_KEYS} keys.",
        "bad_key": f"Keys must be 1 to {MAX_ADDRESS_KEY_LENGTH} characters of text.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(max_length=MAX_ADDRESS_VALUE_LENGTH), **kwargs)
        self.key_field = serializers.CharField(max_length=MAX_ADDRESS_KEY_LENGTH)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if isinstance(data, dict) and len(data) > MAX_ADDRESS_KEYS:
            self.fail("max_keys")
        address = super().to_internal_value(data)
        for key in address:
            try:
                self.key_field.run_validation(key)
            except serializers.ValidationError:
                self.fail("bad_key")
        return address


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
    """The body of POST /orders/. Lines naming the same sku are merged (quantities added); the
    merged quantity must still be within 1..1000. Unknown fields (a total, a status) are ignored."""

    customer_id = serializers.CharField(
        max_length=150,
        required=False,
        allow_null=True,
        help_text="Your own username; staff may name any customer.",
    )
    items = OrderItemInput(many=True, allow_empty=False, max_length=MAX_LINES)
    shipping_address = ShippingAddressField(required=False)
    payment_token = serializers.CharField(
        max_length=64,
        required=False,
        default="tok_visa",
        help_text="Sandbox: tok_visa, tok_declined…",
    )

    def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        totals: dict[str, int] = {}
        for item in items:
            totals[item["sku"]] = totals.get(item["sku"], 0) + item["quantity"]
        too_many = sorted(sku for sku, quantity in totals.items() if quantity > MAX_QUANTITY)
        if too_many:
            raise serializers.ValidationError(
                "Lines of the same product are merged; "
                f"the total for {', '.join(too_many)} exceeds {MAX_QUANTITY}."
            )
        return items


MAX_IDEMPOTENCY_KEY_LENGTH = 255


def idempotency_key(headers: Any) -> str | None:
    """The Idempotency-Key header, validated like a field so a bad one is a 400 naming it."""
    key = headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise serializers.ValidationError(
            {"Idempotency-Key": [f"Must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters."]}
        )
    return key


class ForCallerMixin:
    """Shows an order as the request's user may see it (orders/visibility.py decides); the
    schema documents Meta.staff_only_fields as optional (ordersite/openapi.py)."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        request = self.context.get("request")
        body = super().to_representation(instance)
        return visibility.order_for(user=getattr(request, "user", None), body=body)


class OrderStatusOutput(FieldsBuiltOnce, ForCallerMixin, serializers.Serializer):
    order_id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.ChoiceField(choices=OrderStatus.choices, read_only=True)
    status_reason = serializers.CharField(
        read_only=True,
        help_text="Why the order is in its status; customers read a fixed text per status.",
    )


class OrderItemOutput(FieldsBuiltOnce, serializers.ModelSerializer):
    product_id = serializers.CharField(source="sku", read_only=True)
    line_total_cents = serializers.IntegerField(read_only=True)

    class Meta:
        model = OrderItem
        fields = ("product_id", "name", "quantity", "unit_price_cents", "line_total_cents")
        read_only_fields = fields


class OrderLinksOutput(serializers.Serializer):
    self = serializers.URLField(read_only=True)
    status = serializers.URLField(read_only=True)
    events = serializers.URLField(read_only=True)
    cancel = serializers.URLField(read_only=True)
    ship = serializers.URLField(read_only=True, help_text="Staff only.")
    deliver = serializers.URLField(read_only=True, help_text="Staff only.")
    returns = serializers.URLField(read_only=True)
    refunds = serializers.URLField(read_only=True)


# A stand-in order id: each order route is reversed once per process with it, then filled in.
_ANY_ORDER_ID = "00000000-0000-4000-8000-000000000000"


@functools.lru_cache(maxsize=64)
def _order_path_template(name: str, script_prefix: str) -> str:
    return reverse(name, kwargs={"order_id": _ANY_ORDER_ID})


def _order_path(name: str, order_id: str) -> str:
    """reverse(name, kwargs={"order_id": order_id}), without walking the URLconf for each of the
    nine links of every answer (a third of an order's serialization): the route's path is
    reversed once per process and script prefix (the one thing besides the URLconf that a
    reversed path depends on here), and the order's id put in its place."""
    template = _order_path_template(name, get_script_prefix())
    return template.replace(_ANY_ORDER_ID, order_id, 1)  # a UUID: nothing in it to quote


class OrderOutput(FieldsBuiltOnce, ForCallerMixin, serializers.ModelSerializer):
    order_id = serializers.UUIDField(source="public_id", read_only=True)
    customer_id = serializers.CharField(source="customer.username", read_only=True)
    items = OrderItemOutput(many=True, read_only=True)
    url = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    status_reason = serializers.CharField(
        read_only=True,
        help_text="Why the order is in its status; customers read a fixed text per status.",
    )
    needs_review = serializers.BooleanField(
        read_only=True, help_text="Staff only: a step waits in the DLQ."
    )
    dead_lettered_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Staff only: when a step was dead-lettered."
    )

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
            "refunded_cents",
            "currency",
            "items",
            "shipping_address",
            "correlation_id",
            "delivered_at",
            "version",
            "created_at",
            "updated_at",
            "url",
            "links",
        )
        read_only_fields = fields
        staff_only_fields = visibility.STAFF_ONLY_ORDER_FIELDS

    def _absolute(self, name: str, order: Order) -> str:
        path = _order_path(name, str(order.public_id))
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, order: Order) -> str:
        return self._absolute("order-detail", order)

    @extend_schema_field(OrderLinksOutput)
    def get_links(self, order: Order) -> dict[str, str]:
        return {
            "self": self._absolute("order-detail", order),
            "status": self._absolute("order-status", order),
            "events": self._absolute("order-events", order),
            "cancel": self._absolute("order-cancel", order),
            "ship": self._absolute("order-ship", order),
            "deliver": self._absolute("order-deliver", order),
            "returns": self._absolute("order-returns", order),
            "refunds": self._absolute("order-refunds", order),
        }


class OrderEventOutput(FieldsBuiltOnce, serializers.Serializer):
    """One timeline entry, as orders/visibility.py projects it for the caller: customers get a
    fixed message and whitelisted data per kind, and never see some kinds; staff the full record."""

    seq = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=EventKind.choices, read_only=True)
    status = serializers.ChoiceField(
        choices=OrderStatus.choices, read_only=True, help_text="Status after the event."
    )
    message = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="What happened, in words for the customer (staff: null if hidden).",
    )
    data = serializers.DictField(
        read_only=True, help_text="Customers: only public values (amounts, tracking…)."
    )
    actor = serializers.CharField(
        read_only=True, help_text="Staff only: who or what made the change."
    )
    correlation_id = serializers.UUIDField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    class Meta:
        staff_only_fields = visibility.STAFF_ONLY_EVENT_FIELDS
