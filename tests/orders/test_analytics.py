"""The staff dashboard: every figure from SQL aggregates over the real database."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.states import EventKind, OrderStatus

from ..factories import OrderFactory, backdate_events

pytestmark = pytest.mark.django_db
URL = "/api/v1/analytics/dashboard/"


def _event(order, kind, *, after_seconds):
    seq = order.events.count() + 1
    event = OrderEvent.objects.create(
        order=order, seq=seq, kind=kind, status=order.status, correlation_id=order.correlation_id
    )
    backdate_events(
        OrderEvent.objects.filter(pk=event.pk), order.created_at + timedelta(seconds=after_seconds)
    )


def test_dashboard_counts_revenue_failures_and_latency_percentiles(
    staff_api, redis_client, settings
):
    redis_client.rpush(settings.DLQ_KEY, "{}", "{}")
    for seconds in (1, 2, 3, 4, 10):
        order = OrderFactory(status=OrderStatus.COMPLETED, total_cents=1000)
        _event(order, EventKind.ORDER_COMPLETED, after_seconds=seconds)
    failed = OrderFactory(status=OrderStatus.PAYMENT_FAILED, total_cents=700)
    _event(failed, EventKind.PAYMENT_FAILED, after_seconds=1)
    old = OrderFactory(status=OrderStatus.CANCELLED, total_cents=5)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=3))

    with CaptureQueriesContext(connection) as queries:
        response = staff_api.get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(queries) <= 6, "one aggregate per figure, no per-row queries"

    assert body["orders_by_status"]["completed"] == 5
    assert body["orders_by_status"]["payment_failed"] == 1
    assert body["orders_by_status"]["cancelled"] == 1
    assert body["orders_by_status"]["pending"] == 0
    assert sum(m["orders"] for m in body["per_minute"]) == 6, (
        "the 3-hour-old order is outside the window"
    )
    assert sum(m["revenue_cents"] for m in body["per_minute"]) == 5000, (
        "failed orders bring no revenue"
    )
    assert body["failures"]["payment_failed"] == 1
    assert body["dead_letters"] == 2
    assert body["latency"]["completed"] == 5
    assert body["latency"]["p50_seconds"] == pytest.approx(3, abs=0.01)
    assert body["latency"]["p95_seconds"] == pytest.approx(
        8.8, abs=0.01
    )  # percentile_cont interpolates


def test_dashboard_is_staff_only(api):
    response = api.get(URL)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "permission_denied")


def test_dashboard_of_an_empty_shop(staff_api, redis_client):
    body = staff_api.get(URL).json()
    assert body["per_minute"] == []
    assert body["latency"] == {"completed": 0, "p50_seconds": None, "p95_seconds": None}
