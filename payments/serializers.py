"""Input and output of refunds."""

from rest_framework import serializers

from .models import Refund, RefundStatus


class RefundCreateInput(serializers.Serializer):
    amount_cents = serializers.IntegerField(
        min_value=1, help_text="At most what is captured and not yet refunded."
    )
    reason = serializers.CharField(max_length=500)


class RefundOutput(serializers.ModelSerializer):
    refund_id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.ChoiceField(choices=RefundStatus.choices, read_only=True)
    return_id = serializers.UUIDField(
        source="return_request.public_id", read_only=True, allow_null=True
    )

    class Meta:
        model = Refund
        fields = (
            "refund_id",
            "status",
            "amount_cents",
            "reason",
            "return_id",
            "failure_code",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields
