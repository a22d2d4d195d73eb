"""The browsable API renders every endpoint for a user logged in through the admin session."""

import pytest
from rest_framework.test import APIClient

from orders.states import OrderStatus
from shipping.models import Shipment
from tests.shipping.test_ship_api import _pending_shipment_order

from .factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(staff):
    """A staff member logged in with a session, as after the admin login."""
    client = APIClient()
    client.force_login(staff)
    return client


def _html(response, status=200):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


@pytest.mark.usefixtures("live_worker")
def test_every_get_endpoint_renders_as_html(browser, staff, settings):
    settings.HEALTH_CHECK_TIMEOUT = 1.5
    product = ProductFactory(sku="prod-1")
    order = OrderFactory(customer=staff, lines=[(product, 1)])
    paths = [
        "/api/v1/",
        "/api/v1/products/",
        "/api/v1/products/prod-1/",
        "/api/v1/orders/",
        f"/api/v1/orders/{order.public_id}/",
        f"/api/v1/orders/{order.public_id}/status/",
        f"/api/v1/orders/{order.public_id}/events/",
        "/api/v1/analytics/dashboard/",
        "/api/v1/health",
        "/api/v1/health/ready",
        "/api/docs/",
    ]
    for path in paths:
        page = _html(browser.get(path, HTTP_ACCEPT="text/html"))
        assert "<html" in page, path
    assert browser.get("/api/schema/").status_code == 200


def test_post_only_endpoints_show_their_form_and_render_the_result(browser, staff):
    order = OrderFactory(customer=staff, status=OrderStatus.PENDING)
    shippable = _pending_shipment_order()
    for target in (order, shippable):
        for action in ("cancel", "ship"):
            page = _html(
                browser.get(
                    f"/api/v1/orders/{target.public_id}/{action}/", HTTP_ACCEPT="text/html"
                ),
                405,
            )
            assert "<form" in page
    page = _html(browser.get("/api/v1/orders/", HTTP_ACCEPT="text/html"))
    assert 'name="_content"' in page or "<form" in page, "the POST form of /orders/"

    _html(browser.post(f"/api/v1/orders/{order.public_id}/cancel/", HTTP_ACCEPT="text/html"))
    _html(
        browser.post(
            f"/api/v1/orders/{shippable.public_id}/ship/",
            {"tracking_number": "1Z"},
            format="json",
            HTTP_ACCEPT="text/html",
        )
    )
    assert Shipment.objects.get(order=shippable).tracking_number == "1Z"


def test_a_customer_sees_the_order_list_in_the_browser(customer):
    client = APIClient()
    client.force_login(customer)
    _html(client.get("/api/v1/orders/", HTTP_ACCEPT="text/html"))
    _html(client.get("/api/v1/analytics/dashboard/", HTTP_ACCEPT="text/html"), 403)
