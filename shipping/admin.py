"""Shipments in the admin: read-only; parcels are booked only through the pipeline."""

from django.contrib import admin
from django.http import HttpRequest

from .models import Shipment


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("order", "carrier", "tracking_number", "status", "created_at", "delivered_at")
    list_filter = ("carrier", "status")
    search_fields = ("order__public_id", "tracking_number")
    list_select_related = ("order",)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in Shipment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
