"""Payment adapters for dead-letter tests, named by PAYMENT_GATEWAY_CLASS in a worker's env.

The gateway is the pipeline's outside edge, so a provider that is always down, or one whose
call kills the process, is how a test makes a step fail for real without mocking our code.
"""

import os

from payments.gateways import GatewayUnavailableError, HttpPaymentGateway, PaymentResult


class UnavailablePaymentGateway(HttpPaymentGateway):
    """A provider that never answers: every authorization is a transient failure."""

    name = "always-down"

    def authorize(
        self, *, amount_cents: int, currency: str, token: str, idempotency_key: str
    ) -> PaymentResult:
        raise GatewayUnavailableError("payment provider unreachable (test adapter)")


class WorkerKillingPaymentGateway(HttpPaymentGateway):
    """A provider whose answer crashes the process (think a segfaulting client library)."""

    name = "worker-killer"

    def authorize(
        self, *, amount_cents: int, currency: str, token: str, idempotency_key: str
    ) -> PaymentResult:
        os._exit(13)
