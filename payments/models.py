"""Payment: one authorization per order and what became of it (captured, voided, refunded)."""

import uuid

from django.db import models


class PaymentStatus(models.TextChoices):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    VOIDED = "voided"
    # Some of the captured money went back; the rest is kept.
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"


class Payment(models.Model):
    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="payment")
    amount_cents = models.BigIntegerField()
    captured_cents = models.BigIntegerField(default=0)
    voided_cents = models.BigIntegerField(default=0)
    refunded_cents = models.BigIntegerField(default=0)
    # Cents promised to refunds still on their way to the processor: reserved by a
    # compare-and-swap before the call, so two refunds together never exceed what is captured.
    refunding_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=24, choices=PaymentStatus.choices)
    gateway = models.CharField(max_length=40)
    gateway_reference = models.CharField(max_length=80, blank=True, default="")
    idempotency_key = models.CharField(max_length=120, unique=True)
    failure_code = models.CharField(max_length=40, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            # Money is never made up: what was authorized ends, at most, as captured, voided or
            # refunded (a refund moves cents from captured to refunded).
            models.CheckConstraint(
                condition=models.Q(
                    amount_cents__gte=models.F("captured_cents")
                    + models.F("voided_cents")
                    + models.F("refunded_cents")
                ),
                name="payment_outcomes_within_authorized",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    refunding_cents__gte=0, refunding_cents__lte=models.F("captured_cents")
                ),
                name="payment_refunding_within_captured",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.gateway_reference or self.idempotency_key} ({self.status})"


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    # Given up by staff (its dead letter discarded): nothing was paid, nothing is owed any more.
    ABANDONED = "abandoned"


class Refund(models.Model):
    """Money going back to the card: a goodwill refund (staff) or a received return's. Each has
    its own idempotency key at the processor, so a retried or replayed refund pays out once."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    # A return is refunded once: its refund is found again by this, whoever asks twice.
    return_request = models.OneToOneField(
        "orders.ReturnRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refund",
    )
    amount_cents = models.BigIntegerField()
    status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    reason = models.CharField(max_length=500, blank=True, default="")
    requested_by = models.CharField(max_length=150, blank=True, default="")
    idempotency_key = models.CharField(max_length=120, unique=True)
    gateway_reference = models.CharField(max_length=80, blank=True, default="")
    failure_code = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_cents__gte=1), name="refund_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount_cents} ({self.status})"
