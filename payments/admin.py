"""Payments in the admin: read-only; money moves only through the pipeline. Amounts show as
money (`USD 20.99`); the database keeps integer cents."""

from django.contrib import admin
from django.http import HttpRequest

from ordersite.money import money_column

from .models import Payment, Refund

AMOUNTS = ("authorized", "captured", "voided", "refunded", "refunding")


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
    # Promised to refunds still on their way (reserved so two staff cannot refund it twice).
    refunding = money_column("refunding_cents", description="Refunding", sort_by="refunding_cents")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    """Refunds as they went (or wait, with the processor's last refusal): read-only, since staff
    ask for them through the API (goodwill) or by receiving a return."""

    list_display = (
        "public_id",
        "payment",
        "amount",
        "status",
        "failure_code",
        "requested_by",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("public_id", "payment__order__public_id", "idempotency_key")
    list_select_related = ("payment",)
    amount = money_column(
        "amount_cents",
        description="Amount",
        currency_attr="payment.currency",
        sort_by="amount_cents",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in Refund._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
