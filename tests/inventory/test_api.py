"""The catalog API: filters, pagination, available stock, 404 for an unknown sku."""

import pytest
from rest_framework.test import APIClient

from ..factories import ProductFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/products/"


@pytest.fixture
def catalog(db):
    return [
        ProductFactory(sku="mug-1", name="Blue Mug", on_hand=5, reserved=5),
        ProductFactory(sku="mug-2", name="Red Mug", on_hand=5, reserved=1),
        ProductFactory(sku="tee-1", name="T-shirt", on_hand=0),
    ]


def _skus(**params):
    response = APIClient().get(URL, params)
    assert response.status_code == 200, response.content
    return [p["sku"] for p in response.json()["results"]]


def test_catalog_filters_by_sku_name_and_stock(catalog):
    assert _skus() == ["mug-1", "mug-2", "tee-1"]
    assert _skus(sku="MUG-2") == ["mug-2"]
    assert _skus(name="mug") == ["mug-1", "mug-2"]
    assert _skus(in_stock="true") == ["mug-2"], "reserved units are not available"
    assert _skus(in_stock="false") == ["mug-1", "tee-1"]


def test_catalog_is_paginated_with_a_maximum_page_size(catalog, settings):
    settings.API_MAX_PAGE_SIZE = 2
    body = APIClient().get(URL, {"page_size": 50}).json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert [p["sku"] for p in APIClient().get(body["next"]).json()["results"]] == ["tee-1"]
    assert APIClient().get(URL, {"page": 9}).json()["error"]["code"] == "not_found"


def test_product_detail_shows_available_stock_and_404_for_unknown(catalog):
    body = APIClient().get(f"{URL}mug-2/").json()
    assert (body["product_id"], body["on_hand"], body["reserved"], body["available"]) == (
        "mug-2",
        5,
        1,
        4,
    )
    assert APIClient().get(f"{URL}nope/").json()["error"]["code"] == "not_found"
