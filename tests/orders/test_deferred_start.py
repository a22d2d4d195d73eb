"""An order stored while the broker is unreachable: the client hears that it exists and will run
(201, Pipeline-Deferred), and the web process sends its chain as soon as the broker is back."""

import contextlib
import time
from collections.abc import Iterator

import pytest

from orders.models import Order
from orders.states import OrderStatus
from ordersite.celery import app as celery_app

from ..broker import closed_broker_url
from ..conftest import wait_for
from ..factories import ProductFactory

URL = "/api/v1/orders/"


@contextlib.contextmanager
def producer_broker(url: str) -> Iterator[None]:
    """Point this process's Celery producer (not the workers) at `url`, then back. The producer
    pool is cached per broker URL, so dropping the app's reference makes the next send pick the
    pool of the URL now configured (kombu keeps one per URL)."""
    original = celery_app.conf.broker_url

    def use(broker_url: str) -> None:
        celery_app.conf.broker_url = broker_url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    use(url)
    try:
        yield
    finally:
        use(original)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_worker")
def test_an_order_stored_while_the_broker_is_down_is_201_deferred_and_runs_once_it_is_back(
    api, settings
):
    settings.PIPELINE_START_RETRY_SECONDS = 0.5
    ProductFactory(sku="p-deferred")
    body = {"items": [{"product_id": "p-deferred", "quantity": 1}]}

    with producer_broker(closed_broker_url()):
        response = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="deferred-1")
        assert response.status_code == 201, response.content
        assert response["Pipeline-Deferred"] == "true"
        order_id = response.json()["order_id"]
        assert response["Location"].endswith(f"/orders/{order_id}/")
        assert Order.objects.get(public_id=order_id).status == OrderStatus.PENDING
        # A retry with the same key answers the same, and still says the start is deferred.
        again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="deferred-1")
        assert (again.status_code, again["Pipeline-Deferred"], again.json()["order_id"]) == (
            201,
            "true",
            order_id,
        )
        # While the broker stays down, the retries keep failing and nothing moves.
        time.sleep(1.5)
        assert Order.objects.get(public_id=order_id).status == OrderStatus.PENDING

    started = time.monotonic()
    wait_for(
        lambda: Order.objects.get(public_id=order_id).status == OrderStatus.COMPLETED, timeout=30
    )
    # Seconds, not the reconciler's minutes (PIPELINE_STUCK_AFTER_SECONDS).
    assert time.monotonic() - started < 15
    assert "Pipeline-Deferred" not in api.post(URL, body, format="json")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_worker")
def test_an_order_placed_with_the_broker_up_says_nothing_of_deferral(api):
    ProductFactory(sku="p-normal")
    response = api.post(URL, {"items": [{"product_id": "p-normal", "quantity": 1}]}, format="json")
    assert response.status_code == 201
    assert "Pipeline-Deferred" not in response
    wait_for(
        lambda: Order.objects.get(public_id=response.json()["order_id"]).status == "completed",
        timeout=30,
    )
