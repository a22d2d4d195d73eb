"""Payment gateways: the small interface the pipeline needs, and the adapters behind it.

A new provider is one class implementing PaymentGateway, named by PAYMENT_GATEWAY_CLASS.
Every call carries an idempotency key: the same key must give the same result, never a
second charge. Unreachable or failing providers raise GatewayUnavailableError (transient);
a declined card is a normal result (approved=False), never an exception.
"""

import hashlib
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from ordersite.errors import TransientError


class GatewayUnavailableError(TransientError):
    """The provider could not be reached or answered 5xx: retry later."""


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    reference: str = ""
    decline_code: str = ""
    message: str = ""


class PaymentGateway(Protocol):
    name: str

    def authorize(self, *, amount_cents: int, currency: str, token: str, idempotency_key: str) -> PaymentResult: ...

    def capture(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult: ...

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult: ...

    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult: ...


# Test card tokens, as card processors' test cards: the token alone decides the outcome.
DECLINES = {
    "tok_declined": ("card_declined", "The card was declined."),
    "tok_insufficient_funds": ("insufficient_funds", "The card has insufficient funds."),
}


class InProcessPaymentGateway:
    """A deterministic provider living in the worker process (no network): references derive
    from the idempotency key, so a repeated call returns the same result."""

    name = "in-process"

    def authorize(self, *, amount_cents: int, currency: str, token: str, idempotency_key: str) -> PaymentResult:
        if token in DECLINES:
            code, message = DECLINES[token]
            return PaymentResult(approved=False, decline_code=code, message=message)
        return PaymentResult(approved=True, reference=_reference("auth", idempotency_key))

    def capture(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        return PaymentResult(approved=True, reference=_reference("cap", idempotency_key))

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        return PaymentResult(approved=True, reference=_reference("void", idempotency_key))

    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        return PaymentResult(approved=True, reference=_reference("ref", idempotency_key))


def _reference(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def get_payment_gateway() -> PaymentGateway:
    """The configured provider (PAYMENT_GATEWAY_CLASS)."""
    return import_string(settings.PAYMENT_GATEWAY_CLASS)()
