"""Order, OrderItem and OrderEvent: the order, what it holds, and its append-only timeline."""

import uuid

from django.conf import settings
from django.db import models

from .states import TERMINAL, EventKind, OrderStatus


class Order(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=32, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    total_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    shipping_address = models.JSONField(default=dict, blank=True)
    payment_token = models.CharField(max_length=64, default="tok_visa")
    correlation_id = models.UUIDField(default=uuid.uuid4, editable=False)
    # Set when a customer or staff asks to cancel; the pipeline honours it at its next step.
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.CharField(max_length=255, blank=True, default="")
    # Set while a step of this order waits in the dead-letter queue for staff (see orders/dead_letters.py).
    dead_lettered_at = models.DateTimeField(null=True, blank=True, db_index=True)
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
            models.CheckConstraint(condition=models.Q(total_cents__gte=0), name="order_total_not_negative"),
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
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="item_quantity_positive"),
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
        constraints = [models.UniqueConstraint(fields=["order", "seq"], name="event_seq_unique_per_order")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"


class IdempotencyKey(models.Model):
    """A customer's Idempotency-Key for POST /orders/, kept with the request's fingerprint."""

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "key"], name="idempotency_key_per_customer")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.order_id}"


class DeadLetter(models.Model):
    """No table: the dead letters live in Redis (ordersite/dlq.py). This model only carries the
    admin page's place in the index and its permission."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("review_dead_letters", "Can review, replay and discard dead letters")]
        verbose_name = "dead letter"
        verbose_name_plural = "dead letters"

    def __str__(self) -> str:
        return "dead letter"
