"""Payment: one authorization per order and what became of it (captured, voided, refunded)."""

from django.db import models


class PaymentStatus(models.TextChoices):
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    VOIDED = "voided"
    REFUNDED = "refunded"
    FAILED = "failed"


class Payment(models.Model):
    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="payment")
    amount_cents = models.BigIntegerField()
    captured_cents = models.BigIntegerField(default=0)
    voided_cents = models.BigIntegerField(default=0)
    refunded_cents = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=PaymentStatus.choices)
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
                    amount_cents__gte=models.F("captured_cents") + models.F("voided_cents") + models.F("refunded_cents")
                ),
                name="payment_outcomes_within_authorized",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment {self.gateway_reference or self.idempotency_key} ({self.status})"
