"""GET /api/v1/metrics: Prometheus text for the circuit breakers, the dead-letter queue, orders
and returns by status and refunded money, read at scrape time (nothing is kept in process
memory, so every web process answers the same)."""

from collections.abc import Iterator

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.views import APIView

from deadletters import store as dlq
from ordersite import breakers
from payments import selectors as payment_selectors

from .selectors import order_counts_by_status, return_counts_by_status
from .states import OrderStatus, ReturnStatus

BREAKER_STATES = ("closed", "open", "half_open")


class OrdersiteCollector:
    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "ordersite_breaker_state",
            "1 for the state a breaker is in.",
            labels=["breaker", "state"],
        )
        calls = GaugeMetricFamily(
            "ordersite_breaker_window_calls", "Calls in the sliding window.", labels=["breaker"]
        )
        errors = GaugeMetricFamily(
            "ordersite_breaker_window_errors", "Failures in the window.", labels=["breaker"]
        )
        opened = CounterMetricFamily(
            "ordersite_breaker_opened", "Times the breaker opened.", labels=["breaker"]
        )
        for breaker in breakers.all_breakers():
            for name in BREAKER_STATES:
                state.add_metric([breaker.name, name], 1.0 if breaker.state == name else 0.0)
            calls.add_metric([breaker.name], breaker.calls)
            errors.add_metric([breaker.name], breaker.errors)
            opened.add_metric([breaker.name], breaker.times_opened)
        yield from (state, calls, errors, opened)

        yield GaugeMetricFamily(
            "ordersite_dlq_length",
            "Entries in the dead-letter list.",
            value=dlq.dead_letter_count(),
        )
        yield GaugeMetricFamily(
            "ordersite_dlq_max_length", "DLQ_MAX_LENGTH.", value=settings.DLQ_MAX_LENGTH
        )
        yield CounterMetricFamily(
            "ordersite_dlq_overflow_pushes",
            "Pushes made past DLQ_MAX_LENGTH.",
            value=dlq.overflow_count(),
        )

        orders = GaugeMetricFamily("ordersite_orders", "Orders by status.", labels=["status"])
        counts = order_counts_by_status()
        for status in OrderStatus:
            orders.add_metric([status.value], counts.get(status.value, 0))
        yield orders

        returns = GaugeMetricFamily("ordersite_returns", "Returns by status.", labels=["status"])
        counts = return_counts_by_status()
        for status in ReturnStatus:
            returns.add_metric([status.value], counts.get(status.value, 0))
        yield returns
        refunds = GaugeMetricFamily(
            "ordersite_refunds_cents",
            "Refunded money, paid out or still promised (pending).",
            labels=["status"],
        )
        for status, cents in payment_selectors.refund_totals().items():
            refunds.add_metric([status], cents)
        yield refunds


class MetricsView(APIView):
    """Prometheus scrapes this with a staff user's token (`authorization: {type: Token}`)."""

    permission_classes = [IsAdminUser]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(OrdersiteCollector())
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
