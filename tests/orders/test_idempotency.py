"""Idempotency-Key under real concurrency, and the purge that forgets old keys."""

import threading
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from orders import services, tasks
from orders.models import IdempotencyKey, Order
from orders.states import OrderStatus

from ..conftest import wait_for
from ..factories import OrderFactory, ProductFactory, UserFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_worker")
def test_two_concurrent_requests_with_one_key_create_one_order(live_server, token_for):
    ProductFactory(sku="prod-1", price_cents=1000)
    token = token_for(UserFactory())
    body = {"items": [{"product_id": "prod-1", "quantity": 1}]}
    barrier = threading.Barrier(4)
    responses = []

    def post() -> None:
        with httpx.Client(timeout=20) as client:
            barrier.wait()
            responses.append(
                client.post(
                    f"{live_server.url}/api/v1/orders/",
                    json=body,
                    headers={"Authorization": f"Token {token}", "Idempotency-Key": "one-key"},
                )
            )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    assert len({r.json()["order_id"] for r in responses}) == 1
    assert Order.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
    # Let the worker finish the one order, so nothing writes while the test database is flushed.
    wait_for(lambda: Order.objects.get().status == OrderStatus.COMPLETED, timeout=30)


@pytest.mark.django_db
def test_purge_forgets_keys_older_than_the_ttl_and_keeps_younger_ones():
    old, young = OrderFactory(), OrderFactory()
    IdempotencyKey.objects.create(
        customer=old.customer, key="old", request_fingerprint="f", order=old
    )
    IdempotencyKey.objects.create(
        customer=young.customer, key="young", request_fingerprint="f", order=young
    )
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.filter(key="young").update(
        created_at=timezone.now() - timedelta(hours=23)
    )

    assert tasks.purge_idempotency_keys.run() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["young"]
    assert services.purge_idempotency_keys(older_than=timedelta(hours=1)) == 1


def test_the_purge_runs_hourly_from_celery_beat_and_keys_live_at_least_a_day():
    entry = settings.CELERY_BEAT_SCHEDULE["orders.purge_idempotency_keys"]
    assert entry["task"] == tasks.purge_idempotency_keys.name
    assert settings.IDEMPOTENCY_KEY_TTL_HOURS >= 24
