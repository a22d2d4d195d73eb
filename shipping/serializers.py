"""Input of the staff-only manual shipping endpoint."""

from rest_framework import serializers


class OrderShipInput(serializers.Serializer):
    tracking_number = serializers.CharField(
        max_length=80, help_text="The carrier's tracking number."
    )


class OrderDeliverInput(serializers.Serializer):
    delivered_at = serializers.DateTimeField(
        required=False, help_text="When the parcel arrived; default: now."
    )


class CarrierEventInput(serializers.Serializer):
    """What a carrier pushes: one event about one parcel, with its own id (sent again until we
    answer 2xx, so the id makes it count once)."""

    event_id = serializers.CharField(max_length=120)
    kind = serializers.CharField(
        max_length=40, help_text="`delivered` is acted on; other kinds are acknowledged."
    )
    tracking_number = serializers.CharField(max_length=80)
    occurred_at = serializers.DateTimeField()


class CarrierEventOutput(serializers.Serializer):
    event_id = serializers.CharField(read_only=True)
    duplicate = serializers.BooleanField(
        read_only=True, help_text="True if this event id was handled before."
    )
