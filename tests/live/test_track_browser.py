"""The order-tracking page in Debian's headless Chromium, nothing reachable outside this machine:
a customer logs in on the live server, keeps /track/ open, places orders through the API, and
watches them appear and reach `completed` without a reload."""

import httpx
import pytest

from ..browser import SITE_HOST, expect, needs_chromium
from ..factories import ProductFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def _place(live, token):
    response = httpx.post(
        f"{live.url}/api/v1/orders/",
        json={"items": [{"product_id": "track-1", "quantity": 1}]},
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["order_id"]


def test_a_customer_watches_orders_appear_and_complete_live(
    live_server_process, live_worker, browser, redis_client, token_for
):
    live = live_server_process(ALLOWED_HOSTS=f"127.0.0.1,localhost,{SITE_HOST}")
    ProductFactory(sku="track-1", price_cents=1250, on_hand=100)
    customer = UserFactory(username="watcher")
    customer.set_password("a-long-test-password")
    customer.save()
    token = token_for(customer)
    site = browser.site_url(live.url)
    page = browser.page

    page.goto(f"{site}/track/")
    page.fill("#id_username", "watcher")
    page.fill("#id_password", "a-long-test-password")
    page.click("[type=submit]")
    page.wait_for_url(f"{site}/track/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("li.empty")).to_be_visible()

    order_id = _place(live, token)
    item = page.locator(f'li.order[data-order-id="{order_id}"]')
    expect(item).to_be_visible()
    expect(item.locator(".status")).to_have_text("completed", timeout=60000)
    expect(item.locator(".total")).to_have_text("1250 cents")
    timeline = item.locator("ol.timeline li")
    expect(timeline.first).to_contain_text("Order placed.")
    expect(timeline.last).to_contain_text("Order completed.")
    seqs = [int(seq) for seq in timeline.evaluate_all("items => items.map(li => li.dataset.seq)")]
    assert seqs == sorted(set(seqs))

    # One order's page, opened while the order is still on its way.
    second = _place(live, token)
    page.goto(f"{site}/track/{second}/")
    status = page.locator(f'li.order[data-order-id="{second}"] .status')
    expect(status).to_have_text("completed", timeout=60000)
    assert page.locator("li.order").count() == 1
    assert browser.outside_requests == []
