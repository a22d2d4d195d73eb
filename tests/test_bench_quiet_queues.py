"""`make bench` takes each reading on quiet queues (bench/harness.py, `wait_quiet`): a floor once
ran while our mails still drained, and its ratio flattered us. The wait reads kombu's Redis keys
by name, so these tests publish and take real messages with kombu: a rename in kombu fails here,
not silently in a benchmark."""

import kombu
import pytest
import redis

from bench.harness import wait_quiet
from ordersite.queues import Queue

from .conftest import throwaway_redis

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def broker(tmp_path):
    """A Redis of this test's own, so no worker of the session takes what it publishes."""
    with throwaway_redis(tmp_path) as port:
        yield f"redis://127.0.0.1:{port}/0", redis.Redis(port=port)


def test_quiet_waits_for_queued_messages_of_every_priority(broker):
    url, client = broker
    assert wait_quiet(client, timeout=5)
    with kombu.Connection(url) as connection:
        queue = kombu.Queue(Queue.NOTIFICATIONS.value, routing_key=Queue.NOTIFICATIONS.value)
        connection.Producer().publish(
            {"mail": 1}, routing_key=queue.routing_key, declare=[queue], priority=5
        )
        # kombu kept it in a priority list of its own, not in the queue's plain list
        assert client.llen(Queue.NOTIFICATIONS.value) == 0
        assert wait_quiet(client, timeout=0.5) is False
        message = queue(connection.default_channel).get(no_ack=True)
        assert message.payload == {"mail": 1}
    assert wait_quiet(client, timeout=5)


def test_quiet_waits_for_a_message_a_worker_holds_unacknowledged(broker):
    url, client = broker
    with kombu.Connection(url) as connection:
        queue = kombu.Queue(Queue.PAYMENTS.value, routing_key=Queue.PAYMENTS.value)
        connection.Producer().publish({"step": 1}, routing_key=queue.routing_key, declare=[queue])
        message = queue(connection.default_channel).get(no_ack=False)
        assert client.llen(Queue.PAYMENTS.value) == 0  # taken from the list, held as acks_late
        assert wait_quiet(client, timeout=0.5) is False
        message.ack()
    assert wait_quiet(client, timeout=5)
