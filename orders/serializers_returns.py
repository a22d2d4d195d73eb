"""Input and output shapes of returns."""

from typing import Any

from rest_framework import serializers

from .models import ReturnLine, ReturnRequest
from .serializers import MAX_LINES, MAX_QUANTITY
from .states import LineCondition, ReturnStatus


class ReturnLineInput(serializers.Serializer):
    product_id = serializers.CharField(max_length=64, help_text="The line's sku, as in the order.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class ReturnCreateInput(serializers.Serializer):
    """The body of POST /orders/{order_id}/returns/: which units come back, and why."""

    lines = ReturnLineInput(many=True, allow_empty=False, max_length=MAX_LINES)
    reason = serializers.CharField(max_length=500)

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"sku": line["product_id"], "quantity": line["quantity"]} for line in lines]


class ReturnDecisionInput(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ReturnReceivedLineInput(serializers.Serializer):
    product_id = serializers.CharField(max_length=64)
    condition = serializers.ChoiceField(choices=LineCondition.choices)


class ReturnReceiveInput(serializers.Serializer):
    """Each line of the return, with the condition it came back in (restockable units go back
    on the shelf)."""

    lines = ReturnReceivedLineInput(many=True, allow_empty=False, max_length=MAX_LINES)

    def validate_lines(self, lines: list[dict[str, Any]]) -> dict[str, str]:
        conditions = {line["product_id"]: line["condition"] for line in lines}
        if len(conditions) != len(lines):
            raise serializers.ValidationError("Name each line once.")
        return conditions


class ReturnLineOutput(serializers.ModelSerializer):
    product_id = serializers.CharField(source="item.sku", read_only=True)
    name = serializers.CharField(source="item.name", read_only=True)
    unit_price_cents = serializers.IntegerField(source="item.unit_price_cents", read_only=True)
    condition = serializers.ChoiceField(
        choices=LineCondition.choices,
        read_only=True,
        allow_blank=True,
        help_text="Empty until received.",
    )

    class Meta:
        model = ReturnLine
        fields = ("product_id", "name", "quantity", "unit_price_cents", "condition")
        read_only_fields = fields


class ReturnOutput(serializers.ModelSerializer):
    return_id = serializers.UUIDField(source="public_id", read_only=True)
    order_id = serializers.UUIDField(source="order.public_id", read_only=True)
    status = serializers.ChoiceField(choices=ReturnStatus.choices, read_only=True)
    lines = ReturnLineOutput(many=True, read_only=True)

    class Meta:
        model = ReturnRequest
        fields = (
            "return_id",
            "order_id",
            "status",
            "reason",
            "decision_note",
            "amount_cents",
            "lines",
            "restocked_at",
            "version",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields
