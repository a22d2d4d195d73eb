"""Shipment: the parcel a carrier accepted for an order."""

from django.db import models


class ShipmentStatus(models.TextChoices):
    CREATED = "created"
    CANCELLED = "cancelled"


class Shipment(models.Model):
    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="shipment")
    carrier = models.CharField(max_length=40)
    tracking_number = models.CharField(max_length=80)
    label_reference = models.CharField(max_length=120, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.CREATED
    )
    # When the carrier (its webhook or our poll) or staff said the parcel arrived.
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class CarrierEvent(models.Model):
    """A carrier's webhook event we have handled: a carrier that sends one again (they retry
    until they see a 2xx) finds its id here and changes nothing."""

    event_id = models.CharField(max_length=120, unique=True)
    carrier = models.CharField(max_length=40)
    kind = models.CharField(max_length=40)
    tracking_number = models.CharField(max_length=80)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.carrier} {self.kind} {self.event_id}"
