"""Input of the staff-only manual shipping endpoint."""

from rest_framework import serializers


class OrderShipInput(serializers.Serializer):
    tracking_number = serializers.CharField(max_length=80, help_text="The carrier's tracking number.")
