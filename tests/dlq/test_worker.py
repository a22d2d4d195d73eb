"""Dead-lettering by real workers: retries exhausted, a worker-killing message, an unknown task;
and replays that go through a real worker afterwards."""

from datetime import datetime

import pytest

from deadletters import services as dlq_services
from deadletters import store
from deadletters.envelope import Envelope
from orders.models import Order
from orders.pipeline import pipeline_chain
from orders.states import EventKind, OrderStatus
from ordersite.celery import app
from ordersite.queues import Queue

from ..conftest import wait_for
from ..factories import OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _one_entry() -> Envelope | None:
    entries = store.entries()
    return entries[0] if len(entries) == 1 else None


def _flagged(order: Order) -> bool:
    """The worker pushes to Redis first, then flags the order: wait for both."""
    return Order.objects.get(pk=order.pk).needs_review


def _order(status: str = OrderStatus.PENDING) -> Order:
    product = ProductFactory(on_hand=10)
    return OrderFactory(status=status, lines=[(product, 1)])


def test_poison_step_is_dead_lettered_after_max_retries_then_replay_completes_the_order(
    redis_client, isolated_broker, isolated_worker, request
):
    order = _order()
    order_id = str(order.public_id)
    isolated_worker(
        PIPELINE_MAX_RETRIES="2",
        PAYMENT_GATEWAY_CLASS="tests.dlq.gateways.UnavailablePaymentGateway",
    )
    pipeline_chain(order_id).apply_async(connection=isolated_broker)

    entry = wait_for(_one_entry, timeout=60)
    assert (entry.task, entry.queue, entry.args, entry.order_id) == (
        "payments.authorize_payment",
        "payments",
        [order_id],
        order_id,
    )
    assert (entry.exc_type, entry.reason, entry.attempts) == (
        "GatewayUnavailableError",
        "retries_exhausted",
        3,
    )
    assert "payment provider unreachable" in entry.exc_message
    assert "GatewayUnavailableError" in entry.traceback
    assert entry.task_id
    assert entry.hostname
    assert entry.correlation_id
    assert datetime.fromisoformat(entry.first_failed_at) <= datetime.fromisoformat(
        entry.last_failed_at
    )
    # Celery keeps the rest of a chain last-step-first.
    assert [step["task"] for step in reversed(entry.chain)] == [
        "inventory.reserve_stock",
        "shipping.create_shipment",
        "payments.capture_payment",
    ]

    wait_for(lambda: _flagged(order), timeout=10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAYMENT_PROCESSING
    kinds = list(order.events.values_list("kind", flat=True))
    assert kinds.count(EventKind.STEP_RETRY) == 2
    assert kinds[-1] == EventKind.DEAD_LETTERED

    # The provider is back: the session's ordinary worker takes the replayed step and the rest.
    request.getfixturevalue("live_worker")
    dlq_services.replay_dead_letter(entry_id=entry.id, actor="ops")
    assert store.dead_letter_count() == 0
    wait_for(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED, timeout=60)
    order.refresh_from_db()
    assert not order.needs_review
    kinds = list(order.events.values_list("kind", flat=True))
    assert EventKind.DEAD_LETTER_REPLAYED in kinds
    assert kinds[-1] == EventKind.ORDER_COMPLETED


def test_message_that_kills_its_worker_is_dead_lettered_after_max_deliveries(
    redis_client, isolated_broker, isolated_worker
):
    order = _order()
    worker = isolated_worker(
        DLQ_MAX_DELIVERIES="2",
        PAYMENT_GATEWAY_CLASS="tests.dlq.gateways.WorkerKillingPaymentGateway",
    )
    pipeline_chain(str(order.public_id)).apply_async(connection=isolated_broker)

    entry = wait_for(_one_entry, timeout=90)
    assert (entry.task, entry.reason, entry.exc_type, entry.attempts) == (
        "payments.authorize_payment",
        "worker_lost",
        "WorkerKilledError",
        2,
    )
    wait_for(lambda: _flagged(order), timeout=10)
    assert order.events.filter(kind=EventKind.DEAD_LETTERED).count() == 1
    # Acknowledged as ignored: the rest of the chain is not sent (a replay sends it).
    wait_for(lambda: "ignored" in worker.log.read_text(), timeout=10)
    assert "Task inventory.reserve_stock[" not in worker.log.read_text()


def test_unknown_task_and_undecodable_message_land_in_the_dlq(
    redis_client, isolated_broker, isolated_worker
):
    isolated_worker()
    app.send_task(
        "orders.no_such_task", args=["abc"], queue=Queue.ORDERS, connection=isolated_broker
    )
    with isolated_broker.Producer() as producer:
        producer.publish(
            b"\x00not json at all",
            routing_key="orders",
            content_type="application/json",
            content_encoding="utf-8",
            headers={"task": "payments.authorize_payment", "id": "garbage-1", "lang": "py"},
        )
    entries = wait_for(lambda: len(store.entries()) == 2 and store.entries(), timeout=30)
    by_reason = {entry.reason: entry for entry in entries}
    assert by_reason["unknown_task"].task == "orders.no_such_task"
    assert by_reason["unknown_task"].args == ["abc"]
    assert by_reason["undecodable"].kwargs["raw_body"].endswith("not json at all")
