"""The tests' broker, Redis or RabbitMQ, and what tests do to its queues on either.

Redis by default: the tests' own database (TEST_REDIS_URL, also their REDIS_URL). RabbitMQ when
TEST_BROKER_URL, or else CELERY_BROKER_URL, is an amqp:// URL; the tests then empty the pipeline's
queues of that vhost, so give them a vhost of their own. Tests that need workers nobody else feeds
use a second broker: TEST_ISOLATED_BROKER_URL (of the same kind), else the neighbouring Redis
database, or the vhost `<vhost>-isolated` (`ordersite-isolated` for "/"), which must exist
(`make test-rabbitmq` creates it).
"""

import contextlib
import json
import os
import re
import socket
from urllib.parse import quote, unquote, urlsplit

import redis
from kombu import Connection
from kombu.transport.native_delayed_delivery import MAX_LEVEL, level_name

from ordersite import queues
from ordersite.queues import Queue

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
QUEUES = tuple(Queue)
# Where kombu's Redis transport keeps the messages workers hold (acks_late, countdowns).
REDIS_UNACKED = ("unacked", "unacked_index", "unacked_mutex")


def _test_broker_url() -> str:
    if os.environ.get("TEST_BROKER_URL"):
        return os.environ["TEST_BROKER_URL"]
    celery = os.environ.get("CELERY_BROKER_URL", "")
    return celery if queues.is_amqp(celery) else TEST_REDIS_URL


TEST_BROKER_URL = _test_broker_url()
ON_RABBITMQ = queues.is_amqp(TEST_BROKER_URL)
requires_redis_broker = "the tests' broker is RabbitMQ; this is about kombu's Redis transport"


def _neighbour_db(url: str) -> str:
    """The Redis database just below the tests' own (10 -> 9, 15 -> 14)."""
    return re.sub(r"/(\d+)$", lambda m: f"/{max(int(m.group(1)) - 1, 0)}", url)


def _vhost(url: str) -> str:
    return unquote(urlsplit(url).path[1:]) or "/"


def _isolated_vhost(url: str) -> str:
    parts = urlsplit(url)
    isolated = f"{_vhost(url).strip('/') or 'ordersite'}-isolated"
    return parts._replace(path="/" + quote(isolated, safe="")).geturl()


_GIVEN_ISOLATED = os.environ.get("TEST_ISOLATED_BROKER_URL", "")
# A second Redis database of the tests' own: the isolated broker on Redis, and the "outside
# world's" Redis of the sandbox tests whatever the broker.
ISOLATED_REDIS_URL = (
    _GIVEN_ISOLATED
    if _GIVEN_ISOLATED and not queues.is_amqp(_GIVEN_ISOLATED)
    else _neighbour_db(TEST_REDIS_URL)
)
if not ON_RABBITMQ:
    ISOLATED_BROKER_URL = ISOLATED_REDIS_URL
elif queues.is_amqp(_GIVEN_ISOLATED):
    ISOLATED_BROKER_URL = _GIVEN_ISOLATED
else:
    ISOLATED_BROKER_URL = _isolated_vhost(TEST_BROKER_URL)


def _delay_queues() -> list[str]:
    """RabbitMQ's delayed-delivery queues: countdowns of earlier tests wait there."""
    return [level_name(level) for level in range(MAX_LEVEL + 1)]


def purge(url: str, names: tuple[str, ...] = QUEUES) -> None:
    """Empty the queues (and, on Redis, what workers held; on RabbitMQ, the countdowns still
    waiting), so messages of earlier tests for orders that no longer exist make no noise."""
    if not queues.is_amqp(url):
        client = redis.Redis.from_url(url)
        client.delete(*names, *REDIS_UNACKED)
        client.close()
        return
    with Connection(url) as connection:
        for name in (*names, *_delay_queues()):
            with connection.channel() as channel, contextlib.suppress(*connection.channel_errors):
                channel.queue_purge(name)  # a queue nobody declared yet closes the channel


def empty_queue(url: str, name: str) -> None:
    """Empty a queue a test made up. Purged, not deleted, on RabbitMQ: the producer remembers the
    queues it declared, and would publish into nowhere after a delete."""
    if not queues.is_amqp(url):
        client = redis.Redis.from_url(url)
        client.delete(name)
        client.close()
        return
    with (
        Connection(url) as connection,
        connection.channel() as channel,
        contextlib.suppress(*connection.channel_errors),
    ):
        channel.queue_purge(name)  # a queue nobody declared yet closes the channel


def backlog(url: str, names: tuple[str, ...] = QUEUES) -> int:
    """Messages waiting in the queues, not yet taken by a worker."""
    if not queues.is_amqp(url):
        client = redis.Redis.from_url(url)
        try:
            return sum(client.llen(name) for name in names)
        finally:
            client.close()
    waiting = 0
    with Connection(url) as connection:
        for name in names:
            with connection.channel() as channel, contextlib.suppress(*connection.channel_errors):
                waiting += channel.queue_declare(queue=name, passive=True).message_count
    return waiting


def closed_broker_url() -> str:
    """A broker URL of the tests' kind on a port nothing listens on: refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return (
        f"amqp://guest:guest@127.0.0.1:{port}//" if ON_RABBITMQ else f"redis://127.0.0.1:{port}/0"
    )


def take_headers(url: str, name: str) -> list[dict]:
    """Take every message out of a queue a test made up; their headers, oldest first."""
    if not queues.is_amqp(url):
        client = redis.Redis.from_url(url)
        try:
            raws = []
            while (raw := client.rpop(name)) is not None:  # kombu pushes at the head
                raws.append(raw)
        finally:
            client.close()
        return [json.loads(raw)["headers"] for raw in raws]
    taken = []
    with Connection(url) as connection, connection.channel() as channel:
        while (message := channel.basic_get(name, no_ack=True)) is not None:
            taken.append(message.headers)
    return taken


if __name__ == "__main__":
    # `python -m tests.broker`: the RabbitMQ vhosts the tests will use (none on Redis), for
    # bin/ensure-rabbitmq to create.
    if ON_RABBITMQ:
        print(_vhost(TEST_BROKER_URL), _vhost(ISOLATED_BROKER_URL))  # noqa: T201
