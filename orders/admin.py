"""Orders in the admin: items, payment, shipment and the full timeline on one page. Orders are
changed only through services (the cancel action), never by editing fields."""

import functools
import json
from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from ordersite import logs
from ordersite.errors import DomainError
from ordersite.money import format_money, money_column
from ordersite.pagination import CappedCountPaginator
from payments import selectors as payment_selectors
from shipping import selectors as shipping_selectors
from shipping import services_delivery

from . import selectors, services
from .models import Order, OrderEvent, OrderItem


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    fields = ("sku", "name", "quantity", "unit_price", "line_total")
    readonly_fields = fields
    extra = 0
    can_delete = False
    unit_price = money_column(
        "unit_price_cents", currency_attr="order.currency", description="Unit price"
    )
    line_total = money_column(
        "line_total_cents", currency_attr="order.currency", description="Line total"
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderItem]:
        return super().get_queryset(request).select_related("order")

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    fields = ("seq", "created_at", "kind", "status", "actor", "event_data")
    readonly_fields = fields
    ordering = ("seq",)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("order")

    @admin.display(description="Data")
    def event_data(self, event: OrderEvent) -> str:
        """The event's data, its amounts (`amount_cents: 2099`) as money (`amount: USD 20.99`)."""
        return format_html_join(
            ", ", "{}: {}", _readable_data(event.data, currency=event.order.currency)
        )

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _readable_data(data: dict[str, Any], *, currency: str) -> Iterator[tuple[str, str]]:
    for key, value in data.items():
        if key.endswith("_cents") and isinstance(value, int):
            yield key.removesuffix("_cents"), format_money(value, currency)
        else:
            yield key, value if isinstance(value, str) else json.dumps(value)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("public_id", "customer", "status", "total", "created_at", "updated_at")
    # Every filter and search below stays cheap on millions of orders: no DISTINCT over a column
    # (a "currency" filter scans the table, so does a date hierarchy), exact sku and id matches
    # through indexes, and a count capped at ADMIN_COUNT_CAP (bench/growth.py measures it).
    list_filter = ("status", ("dead_lettered_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("public_id",)  # the search itself is selectors.order_search
    search_help_text = (
        "An order or correlation id, an exact sku, or part of a customer's username or email."
    )
    list_select_related = ("customer",)
    paginator = CappedCountPaginator
    show_full_result_count = False
    readonly_fields = (
        "public_id",
        "customer",
        "status",
        "status_reason",
        "total",
        "refunded",
        "shipping_address",
        "correlation_id",
        "cancel_requested_at",
        "delivered_at",
        "dead_lettered_at",
        "version",
        "created_at",
        "updated_at",
        "payment_summary",
        "shipment_summary",
    )
    # The total shows as money (`total`); its cents and currency are never edited here.
    exclude = ("payment_token", "last_event_seq", "total_cents", "refunded_cents", "currency")
    inlines = (OrderItemInline, OrderEventInline)
    actions = ("cancel_orders", "mark_delivered")
    total = money_column("total_cents", description="Total", sort_by="total_cents")
    refunded = money_column("refunded_cents", description="Refunded", sort_by="refunded_cents")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        return selectors.order_search(orders=queryset, term=search_term), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Payment")
    def payment_summary(self, order: Order) -> str:
        payment = payment_selectors.payment_for_order(order_pk=order.pk)
        if payment is None:
            return "-"
        money = functools.partial(format_money, currency=payment.currency)
        rows = [
            ("status", payment.status),
            ("authorized", money(payment.amount_cents)),
            ("captured", money(payment.captured_cents)),
            ("voided", money(payment.voided_cents)),
            ("refunded", money(payment.refunded_cents)),
            ("gateway", payment.gateway),
            ("reference", payment.gateway_reference),
        ]
        return format_html_join(", ", "{}: {}", rows)

    @admin.display(description="Shipment")
    def shipment_summary(self, order: Order) -> str:
        shipment = shipping_selectors.shipment_for_order(order_pk=order.pk)
        if shipment is None:
            return "-"
        rows = [
            ("carrier", shipment.carrier),
            ("tracking", shipment.tracking_number),
            ("status", shipment.status),
        ]
        return format_html_join(", ", "{}: {}", rows)

    @admin.action(description="Cancel selected orders (void or refund, release stock)")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        done = 0
        for order in queryset:
            try:
                with logs.order_scope():
                    services.cancel_order(
                        order=order, actor=request.user.get_username(), reason="Cancelled by staff."
                    )
                done += 1
            except DomainError as exc:
                self.message_user(request, exc.message, level=messages.WARNING)
        if done:
            self.message_user(request, f"Cancelled {done} order(s).", level=messages.SUCCESS)

    @admin.action(
        description="Mark selected orders delivered (the parcel arrived; no carrier will say so)"
    )
    def mark_delivered(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        done = 0
        for order in queryset:
            try:
                with logs.order_scope():
                    services_delivery.deliver_order_by_hand(
                        order=order, actor=request.user.get_username()
                    )
                done += 1
            except DomainError as exc:
                self.message_user(request, exc.message, level=messages.WARNING)
        if done:
            self.message_user(request, f"Marked {done} order(s) delivered.", level=messages.SUCCESS)


from . import admin_returns  # noqa: E402, F401  (register the Returns page)
