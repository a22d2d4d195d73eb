"""Payment gateways: the small interface the pipeline needs, and the HTTP adapter behind it.

A new provider is one class implementing PaymentGateway, named by PAYMENT_GATEWAY_CLASS.
Every call carries an idempotency key: the same key must give the same result, never a
second charge. Unreachable or failing providers raise GatewayUnavailableError (transient);
a declined card is a normal result (approved=False), never an exception.
"""

from dataclasses import dataclass
from typing import Protocol, cast

from django.conf import settings
from django.utils.module_loading import import_string

from ordersite.breakers import BreakerName, guarded
from ordersite.gateways import (
    GatewayRejectedError,
    GatewayRequestError,
    GatewayUnavailableError,
    get_json,
    post_json,
)

__all__ = [
    "GatewayRejectedError",
    "GatewayRequestError",
    "GatewayUnavailableError",
    "HttpPaymentGateway",
    "LedgerEntry",
    "PaymentGateway",
    "PaymentResult",
]


@dataclass(frozen=True)
class PaymentResult:
    approved: bool
    reference: str = ""
    decline_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class LedgerEntry:
    """One authorization as the provider's books show it (what an audit compares ours with)."""

    reference: str
    status: str
    amount_cents: int
    captured_cents: int
    voided_cents: int
    refunded_cents: int
    idempotency_key: str = ""  # the merchant's key it was created with: whose charge it is


class PaymentGateway(Protocol):
    name: str

    def authorize(
        self, *, amount_cents: int, currency: str, token: str, idempotency_key: str
    ) -> PaymentResult: ...

    def capture(
        self, *, reference: str, amount_cents: int, idempotency_key: str
    ) -> PaymentResult: ...

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult: ...

    def refund(
        self, *, reference: str, amount_cents: int, idempotency_key: str
    ) -> PaymentResult: ...


class HttpPaymentGateway:
    """Our payment sandbox's API (the shape of a card processor's): POST /v1/authorizations, then
    /v1/authorizations/<id>/capture, /void, or /refunds (one per refund, partial amounts). A
    402 is a decline (of a card, or of a refund)."""

    name = "sandbox"

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = (base_url or settings.PAYMENT_GATEWAY_URL).rstrip("/")

    # 5xx answers about this card or request, not about the processor: retried, but never
    # counted against the shared payment breaker (see "Circuit breakers" in the README).
    REQUEST_ERROR_CODES = frozenset({"processing_error"})

    def _call(self, path: str, body: dict, key: str) -> PaymentResult:
        answer = post_json(
            f"{self.base_url}/v1/authorizations{path}",
            body,
            idempotency_key=key,
            ok=frozenset({402}),
            request_error_codes=self.REQUEST_ERROR_CODES,
        )
        error = answer.get("error") or {}
        return PaymentResult(
            approved=not error,
            reference=answer.get("id", ""),
            decline_code=error.get("code", ""),
            message=error.get("message", ""),
        )

    def authorize(
        self, *, amount_cents: int, currency: str, token: str, idempotency_key: str
    ) -> PaymentResult:
        body = {"amount_cents": amount_cents, "currency": currency, "token": token}
        return self._call("", body, idempotency_key)

    def capture(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        return self._call(f"/{reference}/capture", {"amount_cents": amount_cents}, idempotency_key)

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        return self._call(f"/{reference}/void", {}, idempotency_key)

    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        return self._call(f"/{reference}/refunds", {"amount_cents": amount_cents}, idempotency_key)

    def ledger(self) -> list[LedgerEntry]:
        """Every authorization the provider holds (GET /v1/authorizations), for the invariant audit.
        Optional for an adapter: without it, the audit skips the comparison with the provider."""
        return [
            LedgerEntry(
                reference=row["id"],
                status=row["status"],
                amount_cents=row["amount_cents"],
                captured_cents=row["captured_cents"],
                voided_cents=row["voided_cents"],
                refunded_cents=row["refunded_cents"],
                idempotency_key=row.get("idempotency_key", ""),
            )
            for row in get_json(f"{self.base_url}/v1/authorizations")["data"]
        ]


def payment_ledger() -> list[LedgerEntry] | None:
    """The configured provider's ledger, read without the breaker; None when its adapter cannot
    list authorizations. Raises GatewayUnavailableError when it does not answer."""
    adapter = import_string(settings.PAYMENT_GATEWAY_CLASS)()
    return adapter.ledger() if hasattr(adapter, "ledger") else None


def get_payment_gateway() -> PaymentGateway:
    """The configured provider (PAYMENT_GATEWAY_CLASS), every call behind the payment breaker."""
    return cast(
        PaymentGateway,
        guarded(import_string(settings.PAYMENT_GATEWAY_CLASS)(), breaker=BreakerName.PAYMENT),
    )
