"""Errors of the payment domain."""

from rest_framework import status

from ordersite.errors import DomainError


class PaymentNotCapturableError(DomainError):
    """The money is no longer held (voided, refunded, failed): completing the order would ship
    goods nobody paid for. Never retried; the step is dead-lettered for staff to review."""

    code = "payment_not_capturable"
    http_status = status.HTTP_409_CONFLICT
