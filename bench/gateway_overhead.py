"""What a gateway call costs: the payment sandbox over HTTP, with and without its breaker.

Run with the sandboxes up (`python manage.py run_sandboxes`):
    python bench/gateway_overhead.py [calls]
Prints the median and p95 of an authorization through the raw adapter and through
get_payment_gateway() (two Redis Lua calls more per call)."""

import os
import statistics
import sys
import time
import uuid

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")
django.setup()

import logging  # noqa: E402

from ordersite.breakers import Breaker, BreakerName  # noqa: E402
from payments.gateways import HttpPaymentGateway, get_payment_gateway  # noqa: E402


def timed(gateway: object, calls: int) -> list[float]:
    run = uuid.uuid4().hex[:8]
    samples = []
    for n in range(calls):
        start = time.perf_counter()
        gateway.authorize(
            amount_cents=1000, currency="USD", token="tok_visa", idempotency_key=f"bench-{run}-{n}"
        )
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    logging.getLogger("httpx").setLevel(logging.WARNING)
    Breaker(BreakerName.PAYMENT).reset()
    for label, gateway in (
        ("raw adapter", HttpPaymentGateway()),
        ("with breaker", get_payment_gateway()),
    ):
        samples = sorted(timed(gateway, calls))
        p95 = samples[int(len(samples) * 0.95) - 1]
        print(
            f"{label:13} calls={calls} median={statistics.median(samples):.2f} ms p95={p95:.2f} ms"
        )


if __name__ == "__main__":
    main()
