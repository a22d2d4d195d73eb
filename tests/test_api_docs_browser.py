"""Swagger UI at /api/docs/ in a real browser with no way out of this machine: every asset comes
from our own static files (drf-spectacular-sidecar), so the page works behind a firewall."""

import pytest

from .browser import needs_chromium

pytestmark = [pytest.mark.django_db(transaction=True), needs_chromium]


def test_swagger_ui_renders_every_operation_without_the_internet(live_server, browser):
    page = browser.page
    page.goto(f"{browser.site_url(live_server.url)}/api/docs/")

    page.locator(".opblock-summary-path", has_text="/api/v1/orders/{order_id}/cancel/").wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/orders/" in paths
    assert "/api/v1/products/{sku}/" in paths
    assert page.locator(".opblock-post").count() >= 4
    assert page.locator(".info .title").inner_text().startswith("ordersite API")
    page.wait_for_load_state("networkidle")
    assert browser.outside_requests == []


def test_swagger_ui_assets_are_served_by_the_site(client):
    page = client.get("/api/docs/").content.decode()
    assert "cdn." not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
