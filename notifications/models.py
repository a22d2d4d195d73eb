"""Notification: one mail to a customer about one event of their order, and what became of it.

One row per event (unique), taken by the task before it sends: a redelivered task or a second
publish of the same event finds the row taken or sent and sends nothing (notifications/services.py).
"""

import uuid

from django.db import models


class NotificationKind(models.TextChoices):
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    # Taken by a task that is sending it now (claimed_at says since when).
    SENDING = "sending"
    SENT = "sent"
    # The last try failed; the task retries, then its dead letter waits for staff.
    FAILED = "failed"
    # Not sent, for the reason given (a customer without an email address).
    SKIPPED = "skipped"


class Notification(models.Model):
    # Derived from (order, event seq) by the publisher, so every copy of the task names one row.
    public_id = models.UUIDField(unique=True, editable=False, default=uuid.uuid4)
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="notifications"
    )
    event = models.OneToOneField(
        "orders.OrderEvent", on_delete=models.PROTECT, related_name="notification"
    )
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    recipient = models.CharField(max_length=254, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["status", "-created_at"], name="notification_status_newest_idx")
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient or '-'} ({self.status})"
