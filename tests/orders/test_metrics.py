"""GET /api/v1/metrics: breakers, the DLQ and orders by status in Prometheus text format."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orders.states import OrderStatus
from ordersite.breakers import Breaker, BreakerName

from ..factories import OrderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_client")]


def _samples(response) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_show_orders_by_status_and_the_dlq(staff_api):
    OrderFactory(status=OrderStatus.PAID)
    OrderFactory(status=OrderStatus.PAID)
    response = staff_api.get("/api/v1/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = _samples(response)
    assert samples[("ordersite_orders", (("status", "paid"),))] == 2
    assert samples[("ordersite_orders", (("status", "completed"),))] == 0
    assert samples[("ordersite_dlq_length", ())] == 0
    assert ("ordersite_dlq_overflow_pushes_total", ()) in samples


def test_metrics_are_for_staff_only(api):
    assert api.get("/api/v1/metrics").status_code == 403


def test_metrics_show_an_open_breaker(staff_api, settings):
    settings.BREAKER_CONSECUTIVE_FAILURES = 2
    settings.BREAKER_OPEN_SECONDS = 30
    breaker = Breaker(BreakerName.PAYMENT)
    for _ in range(2):
        breaker.record(ok=False)
    try:
        samples = _samples(staff_api.get("/api/v1/metrics"))
    finally:
        # else the next test that pays in this process meets an open breaker for 30 s
        breaker.reset()
    assert samples[("ordersite_breaker_state", (("breaker", "payment"), ("state", "open")))] == 1
    assert samples[("ordersite_breaker_state", (("breaker", "payment"), ("state", "closed")))] == 0
    assert samples[("ordersite_breaker_opened_total", (("breaker", "payment"),))] == 1
