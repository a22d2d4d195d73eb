"""Logs that tell an order's whole story: one real order placed over HTTP on gunicorn and run by
one worker per queue, as the Procfile runs them, against the sandboxes. Its id is then found in
the web's lines (its access lines too), in every worker's lines and in the gateway calls' lines,
each with the order's one correlation id and the id of the request that placed it."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from orders.models import Order
from orders.pipeline import CAPTURE, RESERVE, SHIP
from orders.states import OrderStatus
from orders.steps import AUTHORIZE
from ordersite.queues import Queue

from .. import broker
from ..conftest import WorkerProcess, log_records, wait_for, worker_env
from ..dlq.conftest import ISOLATED_BROKER_URL
from ..factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

STEP_OF_QUEUE = {
    Queue.PAYMENTS: AUTHORIZE,
    Queue.INVENTORY: RESERVE,
    Queue.SHIPPING: SHIP,
    Queue.ORDERS: CAPTURE,
}
SEED_BODY = {
    "items": [{"product_id": "prod-1", "name": "Widget", "quantity": 2, "unit_price_cents": 1000}]
}


@pytest.fixture
def queue_workers() -> Iterator[dict[str, WorkerProcess]]:
    """One worker per queue on a broker of their own (the session's worker must not take a step),
    started side by side; stopped by their PIDs after the test."""
    broker.purge(ISOLATED_BROKER_URL)
    env = worker_env(CELERY_BROKER_URL=ISOLATED_BROKER_URL)
    queues = tuple(STEP_OF_QUEUE)  # the pipeline's (customer mail is off in the tests)
    with ThreadPoolExecutor(len(queues)) as pool:
        started = list(
            pool.map(
                lambda q: WorkerProcess(env, queues=q, concurrency=1, name=f"logs-{q}"), queues
            )
        )
    yield dict(zip(queues, started, strict=True))
    for worker in started:
        worker.stop()


def _naming(log: Path, order_id: str) -> list[dict[str, Any]]:
    return [record for record in log_records(log) if record.get("order_id") == order_id]


def test_one_orders_id_is_in_the_web_access_every_worker_and_gateway_lines(
    web_server, queue_workers, token_for
):
    ProductFactory(sku="prod-1", price_cents=1000, on_hand=10)
    customer = UserFactory(username="cust-123")
    web = web_server(workers=1, CELERY_BROKER_URL=ISOLATED_BROKER_URL)
    with httpx.Client(
        base_url=web.url, headers={"Authorization": f"Token {token_for(customer)}"}, timeout=30
    ) as http:
        placed = http.post("/api/v1/orders/", json=SEED_BODY)
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["order_id"]
        wait_for(
            lambda: Order.objects.get(public_id=order_id).status == OrderStatus.COMPLETED,
            timeout=60,
        )
        assert (
            http.get(
                f"/api/v1/orders/{order_id}/", headers={"X-Request-ID": "support-ticket-42"}
            ).status_code
            == 200
        )
    order = Order.objects.get(public_id=order_id)
    story = {"order_id": order_id, "correlation_id": str(order.correlation_id)}
    placing_request = placed.headers["X-Request-ID"]

    # The web: the order placed, and the access lines of the POST that placed it and of the GET.
    def access_lines() -> dict[str, dict] | None:
        lines = {
            r["http_method"]: r
            for r in _naming(web.log, order_id)
            if r["logger"] == "gunicorn.access"
        }
        return (
            lines if {"POST", "GET"} <= set(lines) else None
        )  # gunicorn writes it after the answer

    web_lines = wait_for(access_lines, timeout=10)
    post = web_lines["POST"]
    assert (post["path"], post["http_status"], post["request_id"]) == (
        "/api/v1/orders/",
        201,
        placing_request,
    )
    assert post["correlation_id"] == story["correlation_id"]
    read = web_lines["GET"]
    assert (read["path"], read["http_status"]) == (f"/api/v1/orders/{order_id}/", 200)
    assert read["request_id"] == "support-ticket-42", "a caller's X-Request-ID is kept"
    placed_line = next(r for r in _naming(web.log, order_id) if r["logger"] == "orders.services")
    assert placed_line["event"] == f"order {order_id} placed"
    assert placed_line["correlation_id"] == story["correlation_id"]

    # Every worker: its step's lines name the order, its correlation id and the placing request,
    # carried from the web through each step's message to the next.
    for queue, worker in queue_workers.items():
        lines = [r for r in _naming(worker.log, order_id) if r.get("task") == STEP_OF_QUEUE[queue]]
        assert lines, (
            f"no line of {STEP_OF_QUEUE[queue]} names the order in the {queue} worker's log"
        )
        for record in lines:
            assert record["correlation_id"] == story["correlation_id"], record
            assert record["request_id"] == placing_request, record
        assert any(r["logger"] == "orders.services" for r in lines), (
            f"no state change logged by {queue}"
        )

    # The gateway calls: authorize, ship, capture, each with the order's idempotency key.
    gateway_calls = [
        record
        for worker in queue_workers.values()
        for record in _naming(worker.log, order_id)
        if record["logger"] == "ordersite.gateways"
    ]
    assert {r["task"] for r in gateway_calls} == {AUTHORIZE, SHIP, CAPTURE}
    for record in gateway_calls:
        assert record["idempotency_key"].startswith(f"{order_id}:"), record
        assert record["outcome"] in (200, 201), record
        assert record["correlation_id"] == story["correlation_id"], record

    # The timeline has the same correlation id, and `grep <order id>` finds every process.
    assert set(order.events.values_list("correlation_id", flat=True)) == {order.correlation_id}
    for log in (web.log, *(worker.log for worker in queue_workers.values())):
        assert order_id in log.read_text(), log
