"""Payments in the admin: read-only; money moves only through the pipeline."""

from django.contrib import admin
from django.http import HttpRequest

from .models import Payment, Refund


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "order",
        "status",
        "amount_cents",
        "captured_cents",
        "voided_cents",
        "refunded_cents",
        "refunding_cents",
        "gateway",
        "gateway_reference",
        "created_at",
    )
    list_filter = ("status", "gateway")
    search_fields = ("order__public_id", "gateway_reference", "idempotency_key")
    list_select_related = ("order",)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in Payment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    """Refunds as they went (or wait, with the processor's last refusal): read-only, since staff
    ask for them through the API (goodwill) or by receiving a return."""

    list_display = ("public_id", "payment", "amount_cents", "status", "failure_code", "requested_by", "created_at")
    list_filter = ("status",)
    search_fields = ("public_id", "payment__order__public_id", "idempotency_key")
    list_select_related = ("payment",)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in Refund._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
