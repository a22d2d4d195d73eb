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
    status = models.CharField(max_length=16, choices=ShipmentStatus.choices, default=ShipmentStatus.CREATED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"
