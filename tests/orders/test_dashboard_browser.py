"""The admin's pipeline dashboard in a real browser (Debian's headless Chromium, nothing
reachable outside this machine): real orders over HTTP through a real worker, then the charts
drawn from them, and redrawn without a reload when more orders come."""

import httpx
import pytest

from orders.models import Order
from orders.states import OrderStatus
from ordersite.queues import Queue

from ..browser import expect, log_in, needs_chromium
from ..conftest import wait_for
from ..factories import ProductFactory, StaffFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]

CHART_TOTALS = """id => Object.fromEntries(Chart.getChart(id).data.datasets.map(
    d => [d.label, d.data.reduce((sum, v) => sum + (v || 0), 0)]))"""
# How many pixels of a chart's canvas are drawn on: a chart object with data but nothing painted
# (a broken script, a zero-sized canvas) fails here.
PAINTED_PIXELS = """id => {
    const canvas = document.getElementById(id);
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
    return painted;
}"""


def _place_and_complete(base_url: str, token: str, count: int) -> None:
    ids = []
    for _ in range(count):
        response = httpx.post(
            f"{base_url}/api/v1/orders/",
            json={"items": [{"product_id": "dash-1", "quantity": 1}]},
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["order_id"])
    completed = Order.objects.filter(public_id__in=ids, status=OrderStatus.COMPLETED)
    wait_for(lambda: completed.count() == count, timeout=60)


def test_dashboard_draws_real_orders_and_follows_new_ones_live(
    live_server, live_worker, browser, settings, redis_client, token_for
):
    settings.DASHBOARD_REFRESH_SECONDS = 1
    settings.DASHBOARD_INSPECT_TIMEOUT = (
        5  # a loaded machine may answer slowly; all replies end it early
    )
    ProductFactory(sku="dash-1", price_cents=1250, on_hand=100)
    token = token_for(UserFactory())
    watcher = StaffFactory(username="watcher")
    watcher.set_password("a-long-test-password")
    watcher.save()
    _place_and_complete(live_server.url, token, 3)

    page = browser.page
    site = browser.site_url(live_server.url)
    log_in(page, site, username="watcher", password="a-long-test-password")
    page.click("text=Pipeline dashboard")
    page.wait_for_function(
        "() => window.pipelineDashboard && window.pipelineDashboard.updates >= 1"
    )

    assert page.evaluate(CHART_TOTALS, "chart-orders") == {"completed": 3}
    latency = page.evaluate(CHART_TOTALS, "chart-latency")
    assert set(latency) == {"authorize", "reserve", "ship", "capture"}
    assert all(seconds > 0 for seconds in latency.values())
    expect(page.locator("#latency-table tbody tr")).to_have_count(4)
    assert page.locator("#latency-table tbody tr").first.locator("td").nth(1).inner_text() == "3"
    expect(page.locator("#breaker-table tbody tr td.breaker-closed")).to_have_count(4)
    expect(page.locator("#dlq-count")).to_have_text("0")
    assert set(page.evaluate(CHART_TOTALS, "chart-backlog")) == set(Queue)
    pools = page.evaluate("() => Chart.getChart('chart-pools').data")
    node = pools["labels"].index([live_worker.nodename, ", ".join(Queue)])
    sizes = {dataset["label"]: dataset["data"][node] for dataset in pools["datasets"]}
    assert sizes == {"size": 2, "max": 2}  # the session's worker: prefork, -c 2
    for chart in ("chart-orders", "chart-latency", "chart-pools"):
        assert page.evaluate(PAINTED_PIXELS, chart) > 500, chart

    page.evaluate("() => { window.sameDocument = true; }")
    updates = page.evaluate("() => window.pipelineDashboard.updates")
    _place_and_complete(live_server.url, token, 2)
    page.wait_for_function(
        "() => (Chart.getChart('chart-orders').data.datasets"
        ".find(d => d.label === 'completed') || {data: []})"
        ".data.reduce((sum, v) => sum + v, 0) === 5",
        timeout=30000,
    )
    assert page.evaluate("() => window.sameDocument") is True  # redrawn in place, never reloaded
    assert page.evaluate("() => window.pipelineDashboard.updates") > updates
    expect(page.locator("#dashboard-status")).to_contain_text("Updated")
    assert browser.outside_requests == []
