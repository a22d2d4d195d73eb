"""The order throttle under real concurrency: parallel clients against several gunicorn processes
sharing one budget in Redis."""

import threading
from collections import Counter

import httpx
import pytest

from orders.models import Order

from ..factories import ProductFactory, UserFactory

CLIENTS = 20
POSTS_PER_CLIENT = 4
LIMIT = 30


@pytest.mark.django_db(transaction=True)
def test_order_throttle_accepts_exactly_the_limit_from_parallel_clients_across_processes(
    web_server, token_for, redis_client
):
    ProductFactory(sku="prod-1", on_hand=10_000)
    token = token_for(UserFactory())
    # Two processes with eight threads each: sixteen requests checked against the budget at once.
    server = web_server(workers=2, threads=8, ORDER_CREATE_THROTTLE_RATE=f"{LIMIT}/min")
    body = {"items": [{"product_id": "prod-1", "quantity": 1}]}
    barrier = threading.Barrier(CLIENTS)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=30
        ) as http:
            barrier.wait()
            for _ in range(POSTS_PER_CLIENT):
                response = http.post("/api/v1/orders/", json=body)
                with lock:
                    answers.append(response)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = Counter(response.status_code for response in answers)
    assert statuses == {201: LIMIT, 429: CLIENTS * POSTS_PER_CLIENT - LIMIT}, statuses
    assert Order.objects.count() == LIMIT
    for response in answers:
        if response.status_code == 429:
            error = response.json()["error"]
            assert error["code"] == "throttled"
            assert 0 < error["data"]["wait"] <= 60
