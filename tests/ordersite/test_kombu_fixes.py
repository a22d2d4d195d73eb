"""kombu 5.7.0's Redis transport, closing a channel whose connection is already gone, must not
kill the worker (ordersite/kombu_fixes.py): seen as "Unrecoverable error" in the redis-restart
chaos run, when a worker held unacknowledged messages as Redis went away."""

import time

import kombu
import pytest

from ordersite import kombu_fixes
from ordersite.celery import app  # noqa: F401  (loading the app applies the fix)

from ..conftest import TEST_REDIS_URL


def test_closing_a_channel_whose_connection_is_gone_keeps_the_worker_alive():
    queue = kombu.Queue("kombu-fix-test", routing_key="kombu-fix-test")
    with kombu.Connection(TEST_REDIS_URL) as connection:
        channel = connection.channel()
        producer = kombu.Producer(channel)
        producer.publish({"n": 1}, routing_key="kombu-fix-test", declare=[queue])
        message = channel.basic_get("kombu-fix-test", no_ack=False)
        assert message is not None  # held, unacknowledged, as a worker holds a running task
        channel.connection.client = None  # as Celery's consumer leaves it when the broker is lost
        channel.close()  # kombu alone raises AttributeError here
        assert channel.closed


def test_acknowledging_on_a_channel_whose_connection_is_gone_is_a_connection_error():
    """A task that finishes after the broker was lost acks on a detached channel: Celery logs a
    connection error there and goes on; any other error killed the worker."""
    queue = kombu.Queue("kombu-fix-test", routing_key="kombu-fix-test")
    with kombu.Connection(TEST_REDIS_URL) as connection:
        channel = connection.channel()
        kombu.Producer(channel).publish({"n": 2}, routing_key="kombu-fix-test", declare=[queue])
        message = channel.basic_get("kombu-fix-test", no_ack=False)
        channel.close()
        channel._disconnect_pools()  # as the consumer's teardown leaves a channel of a lost broker
        channel.connection = None
        with pytest.raises(tuple(connection.connection_errors)):
            message.ack()


def test_a_channel_builds_one_redis_client_per_connection_pool_not_one_per_publish():
    queue = kombu.Queue("kombu-fix-test", routing_key="kombu-fix-test")
    with kombu.Connection(TEST_REDIS_URL) as connection:
        channel = connection.channel()
        producer = kombu.Producer(channel)
        for n in range(3):
            producer.publish({"n": n}, routing_key="kombu-fix-test", declare=[queue])
        client = channel._create_client()
        assert channel._create_client() is client
        assert client.connection_pool is channel.pool
        for _ in range(3):
            channel.basic_get("kombu-fix-test", no_ack=True)
        channel._disconnect_pools()  # a new pool (a reconnect) gets a client of its own
        assert channel._create_client() is not client
        assert channel._create_client().connection_pool is channel.pool
        assert channel._create_client(asynchronous=True) is not channel._create_client()


def _received(channel, queue: str) -> list:
    bodies = []
    while (message := channel.basic_get(queue, no_ack=True)) is not None:
        bodies.append(message.payload)
    return bodies


def test_a_channel_keeps_an_exchanges_bindings_briefly_instead_of_reading_them_per_message(
    monkeypatch,
):
    """The bindings read for one publish route the next ones for BINDINGS_TTL_SECONDS, even if
    Redis lost them meanwhile (a restart); then they are read again, and a bind made on the
    channel is seen at once."""
    monkeypatch.setattr(kombu_fixes, "BINDINGS_TTL_SECONDS", 0.2)
    monkeypatch.setattr(kombu_fixes, "KEPT_EXCHANGES", frozenset({"kombu-fix-topic"}))
    exchange = kombu.Exchange("kombu-fix-topic", type="topic")
    queue = kombu.Queue("kombu-fix-topic-q", exchange, routing_key="fix.q")
    other = kombu.Queue("kombu-fix-topic-other", exchange, routing_key="fix.#")
    with kombu.Connection(TEST_REDIS_URL) as connection:
        channel = connection.channel()
        producer = kombu.Producer(channel, exchange=exchange)
        bindings = channel.keyprefix_queue % exchange.name
        try:
            producer.publish({"n": 1}, routing_key="fix.q", declare=[queue])
            channel.client.delete(bindings)  # as a restarted Redis leaves it
            producer.publish({"n": 2}, routing_key="fix.q")
            assert _received(channel, queue.name) == [{"n": 1}, {"n": 2}]

            time.sleep(0.3)  # kept no longer: read again, and kombu finds no binding
            producer.publish({"n": 3}, routing_key="fix.q")
            assert _received(channel, queue.name) == []

            other(channel).declare()  # a bind made on this channel is seen at once
            producer.publish({"n": 4}, routing_key="fix.q")
            assert _received(channel, other.name) == [{"n": 4}]
        finally:
            queue(channel).delete()
            other(channel).delete()
            channel.client.delete(bindings)


def test_other_exchanges_bindings_are_read_per_message():
    """Celery's remote-control replies go through an exchange each asking process binds a queue
    of its own to: a publisher must see a binding made a moment ago elsewhere."""
    exchange = kombu.Exchange("kombu-fix-replies", type="direct")
    first = kombu.Queue("kombu-fix-reply-1", exchange, routing_key="reply-1")
    second = kombu.Queue("kombu-fix-reply-2", exchange, routing_key="reply-2")
    with kombu.Connection(TEST_REDIS_URL) as publisher, kombu.Connection(TEST_REDIS_URL) as asker:
        channel, asking = publisher.channel(), asker.channel()
        producer = kombu.Producer(channel, exchange=exchange)
        try:
            first(asking).declare()
            producer.publish({"n": 1}, routing_key="reply-1")
            second(asking).declare()  # bound by another connection, just now
            producer.publish({"n": 2}, routing_key="reply-2")
            assert _received(asking, second.name) == [{"n": 2}]
        finally:
            first(asking).delete()
            second(asking).delete()
            asking.client.delete(asking.keyprefix_queue % exchange.name)
