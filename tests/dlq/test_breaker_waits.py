"""Finding 5a: waiting on an open breaker does not spend a step's retries, and an outage that
never ends still ends in the dead-letter queue, after PIPELINE_BREAKER_WAIT_MAX_SECONDS. A real
worker (on a broker of its own), the real payment sandbox; the test holds the breaker open."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from celery import signature
from django.db import transaction

from deadletters import store
from orders import services as order_services
from orders.models import Order
from orders.pipeline import pipeline_chain
from orders.states import EventKind, OrderStatus
from ordersite.breakers import Breaker, BreakerName
from payments import services as payment_services
from payments.models import Payment, PaymentStatus

from ..conftest import wait_for
from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def payment_breaker_held_open(redis_client, *, seconds: float) -> Iterator[threading.Event]:
    """Keep the payment breaker open (at most a second ahead, as a short BREAKER_OPEN_SECONDS
    would) for `seconds`, or until the event is set; then reset it."""
    done = threading.Event()
    key = Breaker(BreakerName.PAYMENT).state_key

    def hold() -> None:
        deadline = time.monotonic() + seconds
        while not done.is_set() and time.monotonic() < deadline:
            now_s, now_us = redis_client.time()
            now_ms = now_s * 1000 + now_us // 1000
            redis_client.hset(
                key, mapping={"state": "open", "open_until": now_ms + 1000, "opened_at": now_ms}
            )
            done.wait(0.2)
        Breaker(BreakerName.PAYMENT).reset()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        done.set()
        thread.join(timeout=5)


def _order(token: str) -> Order:
    return OrderFactory(
        status=OrderStatus.PENDING, lines=[(ProductFactory(on_hand=5), 1)], payment_token=token
    )


def _retries(order: Order) -> list[dict]:
    return list(order.events.filter(kind=EventKind.STEP_RETRY).values_list("data", flat=True))


def test_waiting_on_an_open_breaker_does_not_spend_the_steps_retries(
    redis_client, faults, isolated_broker, isolated_worker
):
    """The flaky card needs its two retries for itself; the breaker, open for six seconds, costs
    it several waits on top of them, and the order still completes."""
    isolated_worker(PIPELINE_MAX_RETRIES="2", PIPELINE_BREAKER_WAIT_MAX_SECONDS="60")
    order = _order("tok_processing_error")
    with payment_breaker_held_open(redis_client, seconds=6):
        pipeline_chain(str(order.public_id)).apply_async(connection=isolated_broker)
        wait_for(
            lambda: sum("CircuitOpenError" in r["error"] for r in _retries(order)) >= 4, timeout=20
        )
    wait_for(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED, timeout=60)
    waits = [r for r in _retries(order) if "CircuitOpenError" in r["error"]]
    assert all(r["breaker_wait"] for r in waits)
    assert [r["attempt"] for r in _retries(order) if "processing_error" in r["error"]] == [1, 2]
    assert store.dead_letter_count() == 0


def test_an_outage_that_never_ends_still_ends_in_the_dlq(
    redis_client, faults, isolated_broker, isolated_worker
):
    isolated_worker(PIPELINE_MAX_RETRIES="50", PIPELINE_BREAKER_WAIT_MAX_SECONDS="3")
    order = _order("tok_visa")
    with payment_breaker_held_open(redis_client, seconds=30):
        pipeline_chain(str(order.public_id)).apply_async(connection=isolated_broker)
        entry = wait_for(lambda: store.entries() and store.entries()[0], timeout=20)
    assert (entry.task, entry.exc_type, entry.reason) == (
        "payments.authorize_payment",
        "CircuitOpenError",
        "retries_exhausted",
    )
    wait_for(lambda: Order.objects.get(pk=order.pk).needs_review, timeout=10)
    assert len(_retries(order)) >= 2


def test_a_compensation_waits_out_an_outage_longer_than_the_bound(
    redis_client, faults, isolated_broker, isolated_worker, monkeypatch
):
    """A void must happen however long the gateway is down: past the forward steps' bound it
    keeps waiting (no DLQ entry), and voids once the breaker lets it through."""
    isolated_worker(PIPELINE_BREAKER_WAIT_MAX_SECONDS="2")
    order = _order("tok_visa")
    assert payment_services.authorize_payment(order_id=str(order.public_id)) == "authorized"
    monkeypatch.setattr(
        transaction, "on_commit", lambda *args, **kwargs: None
    )  # sent below, by hand
    order_services.cancel_order(order=Order.objects.get(pk=order.pk), actor="test")
    with payment_breaker_held_open(redis_client, seconds=6):
        signature("payments.void_payment", args=(str(order.public_id),)).apply_async(
            connection=isolated_broker
        )
        wait_for(
            lambda: sum("CircuitOpenError" in r["error"] for r in _retries(order)) >= 3, timeout=20
        )
        assert store.dead_letter_count() == 0
    wait_for(lambda: Payment.objects.get(order=order).status == PaymentStatus.VOIDED, timeout=30)
    assert store.dead_letter_count() == 0
