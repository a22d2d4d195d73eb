"""The admin pages staff use: an order with its timeline, products with stock, stale edits."""

import pytest
from django.db import transaction

from inventory.models import Product
from orders import services
from orders.states import EventKind, OrderStatus

from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


def test_order_change_page_shows_items_and_timeline(admin_browser):
    product = ProductFactory(sku="prod-9")
    order = OrderFactory(lines=[(product, 2)])
    with transaction.atomic():
        services.transition_order(order, OrderStatus.PAYMENT_PROCESSING, kind=EventKind.PAYMENT_STARTED)
    page = admin_browser.get(f"/admin/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "prod-9" in html
    assert "payment_started" in html


@pytest.mark.parametrize(
    "url",
    [
        "/admin/orders/order/?status__exact=pending",
        "/admin/orders/order/?q=prod-1",
        "/admin/inventory/product/?q=sku",
        "/admin/inventory/reservation/",
        "/admin/payments/payment/",
        "/admin/shipping/shipment/",
    ],
)
def test_admin_lists_render_with_filters_and_search(admin_browser, url):
    OrderFactory(lines=[(ProductFactory(), 1)])
    assert admin_browser.get(url).status_code == 200


def test_cancel_action_cancels_through_the_service(admin_browser, django_capture_on_commit_callbacks):
    order = OrderFactory(status=OrderStatus.PAID)
    with django_capture_on_commit_callbacks(execute=False) as compensation:
        admin_browser.post(
            "/admin/orders/order/", {"action": "cancel_orders", "_selected_action": [order.pk]}, follow=True
        )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.events.last().actor == "admin"
    assert len(compensation) == 1


def _product_form(product: Product, **changes) -> dict:
    inline = {f"reservations-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()}
    return {"name": "Renamed", "price_cents": 500, "on_hand": 12, "version": product.version, **inline, **changes}


def test_product_edit_with_a_stale_version_changes_nothing(admin_browser):
    product = ProductFactory(on_hand=10)
    form = _product_form(product)
    Product.objects.filter(pk=product.pk).update(version=product.version + 1, on_hand=11)  # someone else
    page = admin_browser.post(f"/admin/inventory/product/{product.pk}/change/", form, follow=True)
    assert "was changed by someone else" in page.content.decode()
    product.refresh_from_db()
    assert (product.name, product.on_hand) == ("Product " + product.name.split()[-1], 11)


def test_product_edit_below_reserved_stock_is_refused(admin_browser):
    product = ProductFactory(on_hand=10)
    Product.objects.filter(pk=product.pk).update(reserved=8)
    admin_browser.post(f"/admin/inventory/product/{product.pk}/change/", _product_form(product, on_hand=5))
    product.refresh_from_db()
    assert product.on_hand == 10


def test_product_edit_with_the_current_version_saves(admin_browser):
    product = ProductFactory(on_hand=10)
    admin_browser.post(f"/admin/inventory/product/{product.pk}/change/", _product_form(product), follow=True)
    product.refresh_from_db()
    assert (product.name, product.on_hand, product.version) == ("Renamed", 12, 2)


def test_admin_index_links_the_faults_and_breakers_page(admin_browser):
    html = admin_browser.get("/admin/").content.decode()
    assert 'href="/admin/faults/"' in html
    assert admin_browser.get("/admin/faults/").status_code == 200
