"""The pipeline's queues on a real RabbitMQ (and what is the same on Redis): quorum queues whose
delivery limit bounds a message that keeps coming back, countdowns that wait in the broker and
reach their queue under a prefixed routing key, and the queue found again from a delivery."""

import time
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from kombu import Connection
from kombu.transport.native_delayed_delivery import (
    bind_queue_to_native_delayed_delivery_exchange,
    declare_native_delayed_delivery_exchanges_and_queues,
)

from ordersite import queues
from ordersite.celery import app as celery_app

from ..broker import ON_RABBITMQ, TEST_BROKER_URL
from ..conftest import wait_for

# The tests' RabbitMQ when they run on it; else RabbitMQ's default vhost, where these tests only
# declare queues of their own names and delete them afterwards.
RABBITMQ_URL = TEST_BROKER_URL if ON_RABBITMQ else "amqp://guest:guest@127.0.0.1:5672//"


def _next(queue, wait: float = 1.0):
    """The queue's next message, or None if none came within `wait` seconds."""
    deadline = time.monotonic() + wait
    while (message := queue.get(no_ack=False)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return message


def _producer_broker(url: str) -> None:
    """Point this process's Celery producer at `url` (its pool is cached per URL)."""
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def rabbitmq() -> Iterator[Connection]:
    with Connection(RABBITMQ_URL) as connection:
        yield connection


def test_every_pipeline_queue_is_a_quorum_queue_under_a_routing_key_of_its_own():
    by_name = {queue.name: queue for queue in settings.CELERY_TASK_QUEUES}
    assert set(by_name) == set(settings.WORKER_QUEUES) == set(settings.HEALTH_QUEUES)
    for name, queue in by_name.items():
        assert queue.routing_key != name
        assert queue.exchange.type == "topic", "native delayed delivery refuses direct exchanges"
        assert queue.queue_arguments["x-queue-type"] == "quorum"
        assert queue.queue_arguments["x-delivery-limit"] == settings.RABBITMQ_DELIVERY_LIMIT
        assert (
            queue.queue_arguments["x-consumer-timeout"] == settings.RABBITMQ_CONSUMER_TIMEOUT * 1000
        )
    assert (
        queues.queue_of({"routing_key": by_name["payments"].routing_key}, by_name.values())
        == "payments"
    )


def test_a_message_returned_past_the_delivery_limit_is_dropped_by_rabbitmq(rabbitmq):
    """The bound for a message that kills its worker when our own count cannot run (Redis down):
    with limit 2, RabbitMQ delivers it three times, then drops it."""
    (queue,) = queues.declare(
        [f"test-delivery-limit-{uuid.uuid4().hex[:8]}"], delivery_limit=2, consumer_timeout_s=60
    )
    channel = rabbitmq.channel()
    queue = queue.bind(channel)
    queue.declare()
    try:
        rabbitmq.Producer(channel).publish(
            {"poison": True}, exchange=queue.exchange, routing_key=queue.routing_key
        )
        deliveries = []
        while (message := _next(queue)) is not None and len(deliveries) < 6:
            deliveries.append(
                (message.delivery_info["redelivered"], message.headers["x-delivery-count"])
            )
            message.reject(requeue=True)  # what a worker lost mid-task amounts to
        assert deliveries == [(False, 0), (True, 1), (True, 2)]
        assert queue.queue_declare(passive=True).message_count == 0
    finally:
        queue.delete()
        channel.close()


def test_a_countdown_waits_in_rabbitmq_then_reaches_its_queue_which_the_dlq_names(rabbitmq):
    """What a retry's countdown does on RabbitMQ: the message waits in the delayed-delivery queues,
    not in a worker, then lands in its own queue with the delay's bits before its routing key;
    `queue_of` (the DLQ's envelope, its replay) still names the queue."""
    name = f"test-delayed-{uuid.uuid4().hex[:8]}"
    (queue,) = queues.declare([name], delivery_limit=20, consumer_timeout_s=60)
    channel = rabbitmq.channel()
    queue = queue.bind(channel)
    queue.declare()
    # What a worker's DelayedDelivery bootstep does at start-up.
    declare_native_delayed_delivery_exchanges_and_queues(rabbitmq, "quorum")
    bind_queue_to_native_delayed_delivery_exchange(rabbitmq, queue)
    original = celery_app.conf.broker_url
    try:
        _producer_broker(RABBITMQ_URL)
        countdown = queues.broker_countdown(0.4, RABBITMQ_URL)
        assert countdown == 1, "delayed delivery counts whole seconds, and refuses a zero"
        celery_app.send_task("orders.no_such_task", queue=queue, countdown=countdown)
        assert queue.queue_declare(passive=True).message_count == 0, "it waits in the broker"
        message = wait_for(lambda: queue.get(no_ack=True), timeout=15)
        key = message.delivery_info["routing_key"]
        assert key != queue.routing_key
        assert key.endswith(f".{queue.routing_key}")
        assert queues.queue_of(message.delivery_info, [*settings.CELERY_TASK_QUEUES, queue]) == name
    finally:
        _producer_broker(original)
        queue.delete()
        channel.close()


def test_a_message_sent_to_the_default_exchange_is_named_by_its_routing_key():
    assert (
        queues.queue_of({"exchange": "", "routing_key": "orders"}, settings.CELERY_TASK_QUEUES)
        == "orders"
    )
    assert queues.queue_of({"routing_key": "made-up"}, settings.CELERY_TASK_QUEUES) == "made-up"
    assert queues.queue_of(None, settings.CELERY_TASK_QUEUES) == ""


def test_countdowns_are_whole_seconds_on_rabbitmq_only():
    assert queues.broker_countdown(0.1, "amqp://guest:guest@127.0.0.1:5672//") == 1
    assert queues.broker_countdown(2.5, "amqp://h//") == 3
    assert queues.broker_countdown(0.1, "redis://127.0.0.1:6379/0") == 0.1
    assert queues.broker_countdown(0, "amqp://h//") == 0
