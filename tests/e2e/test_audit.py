"""The invariant audit after a real pipeline run: every path of an order (completed, declined,
out of stock, cancelled, retried) through a real worker and the sandboxes leaves nothing held,
lost or leaked."""

import pytest

from orders.invariants import check_invariants
from orders.models import Order
from orders.states import TERMINAL

from ..conftest import wait_for
from ..factories import ProductFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_worker", "faults", "redis_client"),
]


def _place(api, sku: str, token: str = "tok_visa") -> str:
    body = {"items": [{"product_id": sku, "quantity": 1}], "payment_token": token}
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["order_id"]


@pytest.fixture
def pipeline_run(api):
    """Orders of every kind, run to their end; returns the audit once nothing moves any more."""
    ProductFactory(sku="plenty", on_hand=100)
    ProductFactory(sku="last", on_hand=1)
    placed = [
        _place(api, "plenty"),
        _place(api, "plenty", "tok_processing_error"),
        _place(api, "plenty", "tok_declined"),
    ]
    placed += [_place(api, "last"), _place(api, "last")]
    cancelled = _place(api, "plenty")
    api.post(f"/api/v1/orders/{cancelled}/cancel/", format="json")
    wait_for(lambda: not Order.objects.exclude(status__in=TERMINAL).exists(), timeout=60)

    def settled():
        report = check_invariants(window_s=0)
        return report if set(report.counts()) <= {"timeline.customer_internals"} else None

    return wait_for(settled, timeout=30, interval=0.5)


def test_a_pipeline_run_leaves_nothing_held_or_lost(pipeline_run):
    assert pipeline_run.checked["orders"] == 6
    assert set(pipeline_run.counts()) <= {"timeline.customer_internals"}
    assert pipeline_run.checked["gateway authorizations"] >= 4, "the ledger was read"


def test_a_pipeline_run_leaks_nothing_to_customers(pipeline_run):
    assert pipeline_run.ok, pipeline_run.text()
