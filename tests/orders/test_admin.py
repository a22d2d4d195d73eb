"""The admin pages staff use: an order with its timeline, products with stock, stale edits."""

import pytest
from django.db import transaction

from inventory.models import Product
from orders import services
from orders.states import EventKind, OrderStatus
from orders.timeline import record_event
from payments.models import Payment

from ..conftest import without_live_publish
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
        services.transition_order(
            order, OrderStatus.PAYMENT_PROCESSING, kind=EventKind.PAYMENT_STARTED
        )
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


def test_cancel_action_cancels_through_the_service(
    admin_browser, django_capture_on_commit_callbacks
):
    order = OrderFactory(status=OrderStatus.PAID)
    with django_capture_on_commit_callbacks(execute=False) as compensation:
        admin_browser.post(
            "/admin/orders/order/",
            {"action": "cancel_orders", "_selected_action": [order.pk]},
            follow=True,
        )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.events.last().actor == "admin"
    assert len(without_live_publish(compensation)) == 1


def _product_form(product: Product, **changes) -> dict:
    inline = {f"reservations-{k}": v for k, v in {"TOTAL_FORMS": 0, "INITIAL_FORMS": 0}.items()}
    return {
        "name": "Renamed",
        "price": "5.00",
        "on_hand": 12,
        "version": product.version,
        **inline,
        **changes,
    }


def test_product_edit_with_a_stale_version_changes_nothing(admin_browser):
    product = ProductFactory(on_hand=10)
    form = _product_form(product)
    Product.objects.filter(pk=product.pk).update(
        version=product.version + 1, on_hand=11
    )  # someone else
    page = admin_browser.post(f"/admin/inventory/product/{product.pk}/change/", form, follow=True)
    assert "was changed by someone else" in page.content.decode()
    product.refresh_from_db()
    assert (product.name, product.on_hand) == ("Product " + product.name.split()[-1], 11)


def test_product_edit_below_reserved_stock_is_refused(admin_browser):
    product = ProductFactory(on_hand=10)
    Product.objects.filter(pk=product.pk).update(reserved=8)
    admin_browser.post(
        f"/admin/inventory/product/{product.pk}/change/", _product_form(product, on_hand=5)
    )
    product.refresh_from_db()
    assert product.on_hand == 10


def test_product_edit_with_the_current_version_saves(admin_browser):
    product = ProductFactory(on_hand=10)
    admin_browser.post(
        f"/admin/inventory/product/{product.pk}/change/", _product_form(product), follow=True
    )
    product.refresh_from_db()
    assert (product.name, product.on_hand, product.version) == ("Renamed", 12, 2)


def test_admin_index_links_the_breakers_and_faults_pages(admin_browser):
    html = admin_browser.get("/admin/").content.decode()
    assert 'href="/admin/breakers/"' in html
    assert 'href="/admin/faults/"' in html
    assert admin_browser.get("/admin/breakers/").status_code == 200
    assert admin_browser.get("/admin/faults/").status_code == 200


def _paid_order_of_2099_cents() -> tuple:
    order = OrderFactory(lines=[(ProductFactory(sku="prod-money", price_cents=2099), 1)])
    payment = Payment.objects.create(
        order=order,
        amount_cents=2099,
        captured_cents=2099,
        currency="USD",
        status="captured",
        gateway="sandbox",
        gateway_reference="auth_money",
        idempotency_key=f"{order.public_id}:authorize",
    )
    with transaction.atomic():
        record_event(order, EventKind.PAYMENT_CAPTURED, amount_cents=2099)
    return order, payment


def test_order_pages_show_money_not_cents(admin_browser):
    order, _ = _paid_order_of_2099_cents()
    html = admin_browser.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    # The total, the line's unit price and line total, the payment summary and the event's amount.
    assert html.count("USD 20.99") >= 5
    assert "captured: USD 20.99" in html
    assert "amount: USD 20.99" in html
    assert "2099" not in html
    assert "Total cents" not in html
    listing = admin_browser.get("/admin/orders/order/").content.decode()
    assert "USD 20.99" in listing
    assert "2099" not in listing


def test_order_list_sorts_by_the_stored_cents(admin_browser):
    for cents in (2099, 100, 100000):
        OrderFactory(lines=[(ProductFactory(price_cents=cents), 1)])
    html = admin_browser.get("/admin/orders/order/?o=4").content.decode()  # "Total", ascending
    assert html.index("USD 1.00") < html.index("USD 20.99") < html.index("USD 1,000.00")


def test_payment_pages_show_money_not_cents(admin_browser):
    _, payment = _paid_order_of_2099_cents()
    listing = admin_browser.get("/admin/payments/payment/").content.decode()
    assert listing.count("USD 20.99") == 2  # authorized and captured
    assert "USD 0.00" in listing
    page = admin_browser.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
    assert page.count("USD 20.99") == 2
    assert "2099" not in page
    assert "Amount cents" not in page


def test_product_price_is_typed_and_shown_as_money(admin_browser):
    product = ProductFactory(on_hand=10, price_cents=1000)
    form_page = admin_browser.get(f"/admin/inventory/product/{product.pk}/change/").content.decode()
    assert 'value="10.00"' in form_page
    assert "Price (USD)" in form_page
    admin_browser.post(
        f"/admin/inventory/product/{product.pk}/change/", _product_form(product, price="20.99")
    )
    product.refresh_from_db()
    assert (product.price_cents, product.version) == (2099, 2)
    assert "USD 20.99" in admin_browser.get("/admin/inventory/product/").content.decode()


def test_product_price_with_more_decimals_than_its_currency_is_refused(admin_browser):
    product = ProductFactory(on_hand=10, price_cents=1000)
    page = admin_browser.post(
        f"/admin/inventory/product/{product.pk}/change/", _product_form(product, price="20.999")
    )
    assert "USD amounts have at most 2 decimals." in page.content.decode()
    product.refresh_from_db()
    assert (product.price_cents, product.version) == (1000, 1)


def test_new_product_price_follows_the_chosen_currency(admin_browser):
    form = {"sku": "yen-1", "name": "Yen widget", "currency": "JPY", "price": "2099", "on_hand": 3}
    form |= {"reservations-TOTAL_FORMS": 0, "reservations-INITIAL_FORMS": 0}
    admin_browser.post("/admin/inventory/product/add/", form)
    assert Product.objects.get(sku="yen-1").price_cents == 2099
    refused = admin_browser.post(
        "/admin/inventory/product/add/", form | {"sku": "yen-2", "price": "20.99"}
    )
    assert "JPY amounts have at most 0 decimals." in refused.content.decode()
    assert not Product.objects.filter(sku="yen-2").exists()
