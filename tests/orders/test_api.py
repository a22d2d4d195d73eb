"""The order API through DRF's APIClient against the real database: validation, idempotency,
visibility, listing, cancelling, throttling, and the one error shape."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import IdempotencyKey, Order, OrderEvent
from orders.states import OrderStatus

from ..conftest import without_live_publish
from ..factories import OrderFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


@pytest.fixture
def catalog(db):
    return [
        ProductFactory(sku="prod-1", price_cents=1000),
        ProductFactory(sku="prod-2", price_cents=250),
    ]


def _line(sku="prod-1", quantity=1, **extra):
    return {"product_id": sku, "quantity": quantity, **extra}


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields", "data"}
    assert body["error"]["code"] == code
    return body["error"]


def test_the_created_answer_shows_the_lines_as_written_without_reading_them_back(api, catalog):
    with CaptureQueriesContext(connection) as queries:
        response = api.post(URL, {"items": [_line("prod-2", 3), _line("prod-1")]}, format="json")
    assert response.status_code == 201, response.content
    stored = Order.objects.get(public_id=response.json()["order_id"]).items.all()
    assert [(i["product_id"], i["quantity"]) for i in response.json()["items"]] == [
        (item.sku, item.quantity) for item in stored
    ]
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in reads if '"orders_orderitem"' in sql.split(" WHERE ")[0]], reads


def test_place_order_with_the_seed_body_returns_201_location_and_the_priced_order(
    api, customer, catalog
):
    body = {
        "customer_id": customer.username,
        "items": [
            {"product_id": "prod-1", "name": "Whatever", "quantity": 2, "unit_price_cents": 1000}
        ],
        "shipping_address": {"name": "Ada", "city": "London"},
        # A client cannot set what the server computes: these are ignored.
        "status": "completed",
        "total_cents": 1,
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert response["Location"] == data["url"]
    assert (data["status"], data["total_cents"], data["currency"]) == ("pending", 2000, "USD")
    assert data["items"] == [
        {
            "product_id": "prod-1",
            "name": catalog[0].name,
            "quantity": 2,
            "unit_price_cents": 1000,
            "line_total_cents": 2000,
        }
    ], "the catalog names and prices the line, not the client"
    assert set(data["links"]) == {
        "self",
        "status",
        "events",
        "cancel",
        "ship",
        "deliver",
        "returns",
        "refunds",
    }
    order = Order.objects.get(public_id=data["order_id"])
    assert order.shipping_address == {"name": "Ada", "city": "London"}


def test_stale_price_is_409_with_the_current_price_and_writes_nothing(api, catalog):
    response = api.post(URL, {"items": [_line(unit_price_cents=900)]}, format="json")
    error = _assert_error(response, 409, "stale_price")
    assert error["data"]["current_unit_price_cents"] == 1000
    assert not Order.objects.exists()


TOO_MANY_LINES = [_line(f"sku-{i}") for i in range(101)]
ADDRESS_10000_KEYS = {f"k{i}": "v" for i in range(10000)}
ADDRESS_21_KEYS = {f"k{i}": "v" for i in range(21)}


def _with_address(address):
    return {"items": [_line()], "shipping_address": address}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"items": [_line(quantity=0)]}, "items", id="quantity-0"),
        pytest.param({"items": [_line(quantity=1001)]}, "items", id="quantity-1001"),
        pytest.param(
            {"items": [_line(quantity=600), _line(quantity=600)]},
            "items",
            id="merged-duplicates-over-1000",
        ),
        pytest.param({"items": TOO_MANY_LINES}, "items", id="101-lines"),
        pytest.param({"items": []}, "items", id="empty-items"),
        pytest.param({}, "items", id="no-items"),
        pytest.param({"items": "prod-1"}, "items", id="items-not-a-list"),
        pytest.param({"items": ["prod-1"]}, "items", id="line-not-an-object"),
        pytest.param({"items": [_line(quantity="two")]}, "items", id="quantity-not-a-number"),
        pytest.param({"items": [_line(quantity=1.5)]}, "items", id="quantity-fractional"),
        pytest.param({"items": [{"quantity": 1}]}, "items", id="no-product-id"),
        pytest.param({"items": [_line(unit_price_cents=-1)]}, "items", id="negative-price"),
        pytest.param(_with_address("London"), "shipping_address", id="address-not-object"),
        pytest.param(
            {"items": [_line()], "payment_token": ["x"]}, "payment_token", id="token-wrong-type"
        ),
        pytest.param(
            {"items": [_line()], "customer_id": {"id": 1}},
            "customer_id",
            id="customer-id-wrong-type",
        ),
        pytest.param([_line()], "non_field_errors", id="body-a-list-not-an-object"),
        pytest.param({"items": [_line(quantity=None)]}, "items", id="quantity-null"),
        # shipping_address: a flat object of at most 20 short keys with strings of at most 200
        # characters.
        pytest.param(_with_address(ADDRESS_10000_KEYS), "shipping_address", id="addr-10000-keys"),
        pytest.param(_with_address(ADDRESS_21_KEYS), "shipping_address", id="addr-21-keys"),
        pytest.param(_with_address({"k" * 41: "x"}), "shipping_address", id="addr-long-key"),
        pytest.param(_with_address({"": "x"}), "shipping_address", id="addr-empty-key"),
        pytest.param(_with_address({"a\x00": "x"}), "shipping_address", id="addr-nul-key"),
        pytest.param(_with_address({"a": "x" * 201}), "shipping_address", id="addr-long-value"),
        pytest.param(_with_address({"a": {"b": "c"}}), "shipping_address", id="addr-nested"),
        pytest.param(_with_address({"a": ["b"]}), "shipping_address", id="addr-list"),
        pytest.param(_with_address({"a": "b\x00"}), "shipping_address", id="addr-nul-value"),
    ],
)
def test_invalid_body_is_400_naming_the_field_and_writes_nothing(api, catalog, body, field):
    error = _assert_error(api.post(URL, body, format="json"), 400, "invalid")
    assert field in error["fields"]
    assert field in error["data"]["codes"], "each field's error codes, machine-readable"
    assert not Order.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param({"items": [_line("nope")]}, "unknown_product", "items", id="unknown-sku"),
        pytest.param(
            {"items": [_line()], "customer_id": "someone-else"},
            "unknown_customer",
            "customer_id",
            id="cust",
        ),
    ],
)
def test_domain_rejections_are_400_naming_the_field(api, catalog, body, code, field):
    error = _assert_error(api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400, code)
    assert field in error["fields"]
    assert not Order.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_a_mixed_currency_order_is_400_mixed_currency_and_writes_nothing(api, catalog):
    ProductFactory(sku="eur-1", price_cents=900, currency="EUR")
    body = {"items": [_line("prod-1"), _line("eur-1")]}
    error = _assert_error(
        api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400, "mixed_currency"
    )
    assert "items" in error["fields"]
    assert error["data"]["currencies"] == {"prod-1": "USD", "eur-1": "EUR"}
    assert not Order.objects.exists()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param(b'{"items": [', "parse_error", id="truncated-json"),
        pytest.param(b"items=prod-1", "parse_error", id="not-json"),
        pytest.param(b"NaN", "parse_error", id="json-nan"),
    ],
)
def test_non_json_body_is_400(api, catalog, raw, code):
    _assert_error(api.post(URL, raw, content_type="application/json"), 400, code)
    assert not Order.objects.exists()


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_nested(50_000), id="50000-deep"),
        pytest.param(b'{"items": ' + _nested(50_000) + b"}", id="50000-deep-in-items"),
        pytest.param(
            b'{"items": [{"product_id": "prod-1", "x": ' + _nested(500) + b"}]}",
            id="deep-in-a-line",
        ),
        pytest.param(
            b'{"items": [], "shipping_address": {"a": ' + _nested(2_000) + b"}}",
            id="deep-in-address",
        ),
        pytest.param(b'{"items": ' + _nested(9, b"{}") + b"}", id="just-past-the-limit"),
    ],
)
def test_a_body_nested_too_deeply_is_400_invalid_and_writes_nothing(api, catalog, settings, raw):
    settings.API_MAX_JSON_DEPTH = 10
    error = _assert_error(api.post(URL, raw, content_type="application/json"), 400, "invalid")
    assert error["data"]["max_depth"] == 10
    assert error["data"]["codes"] == {"non_field_errors": ["too_deep"]}
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "address",
    [
        pytest.param(rb'{"a\ud800": "x"}', id="lone-surrogate-key"),
        pytest.param(rb'{"a": "x\udfff"}', id="lone-surrogate-value"),
        pytest.param(rb'{"a\u0000": "x"}', id="nul-key"),
    ],
)
def test_an_address_postgresql_cannot_store_is_400_invalid_and_writes_nothing(
    api, catalog, address
):
    raw = (
        b'{"items": [{"product_id": "prod-1", "quantity": 1}], "shipping_address": '
        + address
        + b"}"
    )
    error = _assert_error(api.post(URL, raw, content_type="application/json"), 400, "invalid")
    assert "shipping_address" in error["fields"]
    assert not Order.objects.exists()


def test_a_body_within_the_depth_limit_is_accepted(api, catalog, settings):
    settings.API_MAX_JSON_DEPTH = 3  # {"items": [{...}]} is three levels deep
    assert api.post(URL, {"items": [_line()]}, format="json").status_code == 201


def test_every_json_endpoint_bounds_the_depth(staff_api, catalog):
    order = OrderFactory(lines=[(catalog[0], 1)])
    raw = b'{"tracking_number": ' + _nested(50_000) + b"}"
    response = staff_api.post(f"{URL}{order.public_id}/ship/", raw, content_type="application/json")
    _assert_error(response, 400, "invalid")


def test_body_of_another_media_type_is_415(api, catalog):
    _assert_error(
        api.post(URL, "items=prod-1", content_type="text/plain"), 415, "unsupported_media_type"
    )


def test_huge_body_is_400_request_too_large_and_writes_nothing(api, catalog, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = {"items": [_line()], "shipping_address": {"note": "x" * 2000}}
    _assert_error(api.post(URL, body, format="json"), 400, "request_too_large")
    assert not Order.objects.exists()


def test_duplicate_skus_are_merged_into_one_line(api, catalog):
    response = api.post(URL, {"items": [_line(quantity=2), _line(quantity=3)]}, format="json")
    assert response.status_code == 201
    assert [(i["product_id"], i["quantity"]) for i in response.json()["items"]] == [("prod-1", 5)]


def test_staff_may_order_for_any_customer_but_not_for_an_unknown_one(staff_api, catalog):
    other = UserFactory(username="cust-123")
    response = staff_api.post(URL, {"customer_id": "cust-123", "items": [_line()]}, format="json")
    assert response.status_code == 201
    assert Order.objects.get(public_id=response.json()["order_id"]).customer == other
    _assert_error(
        staff_api.post(URL, {"customer_id": "ghost", "items": [_line()]}, format="json"),
        400,
        "unknown_customer",
    )


def test_anonymous_is_401():
    _assert_error(APIClient().get(URL), 401, "not_authenticated")


# --- Idempotency --------------------------------------------------------------------------


def test_replay_with_the_same_key_and_body_returns_the_original_201_and_creates_nothing(
    api, catalog
):
    body = {"items": [_line(quantity=2)]}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1
    assert OrderEvent.objects.count() == 1


def test_same_key_with_another_body_is_422(api, catalog):
    api.post(URL, {"items": [_line(quantity=2)]}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    response = api.post(
        URL, {"items": [_line(quantity=3)]}, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )
    _assert_error(response, 422, "idempotency_key_reused")
    assert Order.objects.count() == 1


def test_keys_are_scoped_per_customer(api, catalog):
    other = UserFactory()
    other_api = APIClient()
    other_api.force_authenticate(other)
    body = {"items": [_line()]}
    mine = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    theirs = other_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["order_id"] != theirs.json()["order_id"]


@pytest.mark.parametrize("key", ["", "   ", "k" * 256], ids=["empty", "blank", "too-long"])
def test_a_malformed_idempotency_key_is_400_naming_the_header(api, catalog, key):
    error = _assert_error(
        api.post(URL, {"items": [_line()]}, format="json", HTTP_IDEMPOTENCY_KEY=key), 400, "invalid"
    )
    assert "Idempotency-Key" in error["fields"]
    assert not Order.objects.exists()


# --- Reading and visibility ---------------------------------------------------------------


def test_another_customers_order_is_404_everywhere(api, catalog):
    theirs = OrderFactory(lines=[(catalog[0], 1)])
    for suffix in ("", "status/", "events/"):
        _assert_error(api.get(f"{URL}{theirs.public_id}/{suffix}"), 404, "not_found")
    _assert_error(api.post(f"{URL}{theirs.public_id}/cancel/"), 404, "not_found")
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.PENDING


@pytest.mark.parametrize("order_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_order_is_404(api, order_id):
    _assert_error(api.get(f"{URL}{order_id}/"), 404, "not_found")


def test_detail_status_and_events_of_my_order(api, customer, catalog):
    created = api.post(URL, {"items": [_line()]}, format="json").json()
    order_url = f"{URL}{created['order_id']}/"
    assert api.get(order_url).json()["order_id"] == created["order_id"]
    assert api.get(order_url + "status/").json() == {
        "order_id": created["order_id"],
        "status": "pending",
        "status_reason": "",
    }
    assert [e["kind"] for e in api.get(order_url + "events/").json()] == ["order_created"]


def test_list_shows_my_orders_only_and_staff_sees_all(api, staff_api, customer, catalog):
    mine = OrderFactory(customer=customer, lines=[(catalog[0], 1)])
    OrderFactory(lines=[(catalog[0], 1)])
    assert [o["order_id"] for o in api.get(URL).json()["results"]] == [str(mine.public_id)]
    assert len(staff_api.get(URL).json()["results"]) == 2


def test_list_filters_by_status_and_created_range(api, customer, catalog):
    old = OrderFactory(customer=customer, status=OrderStatus.COMPLETED)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(days=3))
    shipped = OrderFactory(customer=customer, status=OrderStatus.SHIPPED)
    OrderFactory(customer=customer, status=OrderStatus.PENDING)

    def ids(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return {o["order_id"] for o in response.json()["results"]}

    assert ids(status=["shipped", "completed"]) == {str(shipped.public_id), str(old.public_id)}
    since = (timezone.now() - timezone.timedelta(days=1)).isoformat()
    assert str(old.public_id) not in ids(created_after=since)
    assert ids(created_before=since) == {str(old.public_id)}
    _assert_error(api.get(URL, {"status": "teleported"}), 400, "invalid")
    _assert_error(api.get(URL, {"created_after": "yesterday"}), 400, "invalid")


def test_list_is_cursor_paginated_with_a_maximum_page_size(api, customer, settings):
    settings.API_MAX_PAGE_SIZE = 3
    for _ in range(5):
        OrderFactory(customer=customer)
    first = api.get(URL, {"page_size": 1000}).json()
    assert len(first["results"]) == 3
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert second["next"] is None
    seen = {o["order_id"] for o in first["results"] + second["results"]}
    assert len(seen) == 5


# --- Cancelling ---------------------------------------------------------------------------


def test_cancel_my_pending_order(api, customer, catalog, django_capture_on_commit_callbacks):
    order = OrderFactory(customer=customer, lines=[(catalog[0], 1)])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(f"{URL}{order.public_id}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert len(without_live_publish(callbacks)) == 1, "compensation is sent after commit"


def test_cancel_after_shipping_is_409_with_the_current_status(api, customer, catalog):
    order = OrderFactory(customer=customer, status=OrderStatus.SHIPPED)
    error = _assert_error(api.post(f"{URL}{order.public_id}/cancel/"), 409, "not_cancellable")
    assert error["data"]["current_status"] == "shipped"


# --- Throttling ---------------------------------------------------------------------------


def test_order_creation_is_throttled_per_user_at_the_configured_rate(
    api, staff_api, catalog, settings, redis_client
):
    settings.ORDER_CREATE_THROTTLE_RATE = "2/min"
    body = {"items": [_line()]}
    assert [api.post(URL, body, format="json").status_code for _ in range(2)] == [201, 201]
    error = _assert_error(api.post(URL, body, format="json"), 429, "throttled")
    assert error["data"]["wait"] > 0
    assert api.get(URL).status_code == 200, "reading is not throttled"
    assert staff_api.post(URL, body, format="json").status_code == 201, (
        "another user has their own budget"
    )


def test_order_creation_goes_through_unthrottled_when_the_counter_is_unreachable(
    api, catalog, settings
):
    settings.ORDER_CREATE_THROTTLE_RATE = "1/min"
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    }
    body = {"items": [_line()]}
    assert [api.post(URL, body, format="json").status_code for _ in range(2)] == [201, 201]


def test_error_bodies_are_json_even_for_the_browsable_api(api):
    response = api.get(f"{URL}nope/", HTTP_ACCEPT="application/json")
    assert json.loads(response.content)["error"]["code"] == "not_found"
