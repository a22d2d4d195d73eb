"""Payments in the admin: read-only; money moves only through the pipeline. Amounts show as
money (`USD 20.99`); the database keeps integer cents."""

from django.contrib import admin
from django.http import HttpRequest

from ordersite.money import money_column

from .models import Payment

AMOUNTS = ("authorized", "captured", "voided", "refunded")


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ("order", "status", *AMOUNTS, "gateway", "gateway_reference", "created_at")
    list_filter = ("status", "gateway")
    search_fields = ("order__public_id", "gateway_reference", "idempotency_key")
    list_select_related = ("order",)
    fields = (
        "order",
        "status",
        *AMOUNTS,
        "gateway",
        "gateway_reference",
        "idempotency_key",
        "failure_code",
        "version",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    authorized = money_column("amount_cents", description="Authorized", sort_by="amount_cents")
    captured = money_column("captured_cents", description="Captured", sort_by="captured_cents")
    voided = money_column("voided_cents", description="Voided", sort_by="voided_cents")
    refunded = money_column("refunded_cents", description="Refunded", sort_by="refunded_cents")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
