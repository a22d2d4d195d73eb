"""Order, OrderItem and OrderEvent: the order, what it holds, and its append-only timeline."""

import uuid

from django.conf import settings
from django.db import models

from .states import TERMINAL, EventKind, LineCondition, OrderStatus, ReturnStatus


class Order(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=32, choices=OrderStatus.choices, default=OrderStatus.PENDING
    )
    total_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    shipping_address = models.JSONField(default=dict, blank=True)
    payment_token = models.CharField(max_length=64, default="tok_visa")
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # Set when a customer or staff asks to cancel; the pipeline honours it at its next step.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=255, blank=True, default="")
    # Set while a step of this order waits in the dead-letter queue for staff
    # (see orders/parked.py).
    dead_lettered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # When the carrier (or staff) reported the parcel delivered: the return window counts from it.
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Money given back (succeeded refunds), kept with the order so lists show it without a join;
    # the invariant audit holds it equal to the payment's refunded_cents.
    refunded_cents = models.BigIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    last_event_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["customer", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),
            # Staff's order list filtered by status, newest first (the API's cursor order).
            models.Index(fields=["status", "-created_at", "-id"], name="order_status_newest_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total_cents__gte=0), name="order_total_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    refunded_cents__gte=0, refunded_cents__lte=models.F("total_cents")
                ),
                name="order_refunded_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"Order {self.public_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def needs_review(self) -> bool:
        """A step of this order is in the dead-letter queue."""
        return self.dead_lettered_at is not None


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price_cents = models.BigIntegerField()

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="one_line_per_product"),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="item_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def line_total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


class OrderEvent(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    status = models.CharField(max_length=32, choices=OrderStatus.choices)
    data = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=150, blank=True, default="")
    correlation_id = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("order", "seq")
        constraints = [
            models.UniqueConstraint(fields=["order", "seq"], name="event_seq_unique_per_order")
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"


class ReturnRequest(models.Model):
    """A customer's request to send back some units of a delivered order, and what became of it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    status = models.CharField(
        max_length=16, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED
    )
    reason = models.CharField(max_length=500)
    # Staff's note when deciding (a refusal's reason); shown to the customer as given.
    decision_note = models.CharField(max_length=500, blank=True, default="")
    # What the return is worth (its lines at the prices paid), fixed when it is requested.
    amount_cents = models.BigIntegerField()
    # Set once, when its restockable units went back on the shelf (makes the restock idempotent).
    restocked_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["status", "-created_at"], name="return_status_newest_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gte=0), name="return_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Return {self.public_id} ({self.status})"


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    item = models.ForeignKey(OrderItem, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    # Set by the warehouse when the parcel comes back.
    condition = models.CharField(
        max_length=16, choices=LineCondition.choices, blank=True, default=""
    )

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "item"], name="one_return_line_per_item"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="return_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.item_id} ({self.condition or 'not received'})"


class IdempotencyKey(models.Model):
    """A customer's Idempotency-Key for POST /orders/, kept with the request's fingerprint."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "key"], name="idempotency_key_per_customer")
        ]

    def __str__(self) -> str:
        return f"{self.key} -> {self.order_id}"
