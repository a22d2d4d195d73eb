"""Errors of the payment domain."""

from rest_framework import status

from ordersite.errors import DomainError, TransientError


class PaymentNotCapturableError(DomainError):
    """The money is no longer held (voided, refunded, failed): completing the order would ship
    goods nobody paid for. Never retried; the step is dead-lettered for staff to review."""

    code = "payment_not_capturable"
    http_status = status.HTTP_409_CONFLICT


class CaptureRefusedError(DomainError):
    """The processor refused to capture a held authorization (`data.decline_code`). Permanent:
    asking again with the same key gets the same answer, so the step is not retried; it is
    dead-lettered for staff, the order parked at `shipped`."""

    code = "capture_refused"
    http_status = status.HTTP_409_CONFLICT


class RefundExceedsCapturedError(DomainError):
    """More asked back than is captured and not already refunded or being refunded: the check is
    a compare-and-swap on the payment, so of two staff refunding at once only one can pass it."""

    code = "refund_exceeds_captured"
    http_status = status.HTTP_409_CONFLICT


class NotRefundableError(DomainError):
    """The order has no captured money to give back (not completed, or already refunded)."""

    code = "not_refundable"
    http_status = status.HTTP_409_CONFLICT


class RefundRefusedError(TransientError):
    """The processor answered and refused the refund (the card closed, the issuer said no for
    now). Retried with backoff like any transient fault, without counting against the breaker;
    past its retries the step waits in the DLQ for staff, the money still promised to it, and a
    replay asks the processor again once the cause is cleared."""

    def __init__(self, message: str, decline_code: str = "") -> None:
        # Both in args: Celery rebuilds the exception from them when the retries run out.
        super().__init__(message, decline_code)
        self.decline_code = decline_code

    def __str__(self) -> str:
        return str(self.args[0])
