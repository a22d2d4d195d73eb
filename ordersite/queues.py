"""The pipeline's queues: their names (the one `Queue` enum), their declaration for both brokers,
the worker command that consumes them, and what a delivered message says about the queue it came
from.

Each queue is bound to one topic exchange under a routing key of its own (`ordersite.<queue>`),
never assumed to be the queue's name. On RabbitMQ the queues are quorum queues (replicated,
delivery-counted), which also turns on Celery's native delayed delivery: a countdown waits in
RabbitMQ's `celery_delayed_*` queues, not unacknowledged in a worker, and reaches its queue through
the `celery_delayed_delivery` exchange with its routing key prefixed by the delay's bits. Redis
ignores queue arguments, so there the same declaration keeps Celery's classic behaviour (a
countdown is held by a worker, bounded by the visibility timeout: ordersite/checks.py).
"""

import math
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import kombu
from kombu.transport.native_delayed_delivery import MAX_NUMBER_OF_BITS_TO_USE

EXCHANGE = "ordersite"
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "librabbitmq"})
# What native delayed delivery puts in front of a routing key: one bit of the delay per level.
_DELAY_PREFIX = re.compile(rf"^(?:[01]\.){{{MAX_NUMBER_OF_BITS_TO_USE}}}")


class Queue(StrEnum):
    """Every queue a worker consumes, split by kind of work (PostHog's one enum) so each can be
    scaled on its own. The only place a queue is spelled in Python: settings, routes, readiness and
    the tests derive from it, and tests/test_queue_registry.py holds the Procfile and
    docker-compose.yml (which cannot import it) to it."""

    ORDERS = "orders"
    PAYMENTS = "payments"
    INVENTORY = "inventory"
    SHIPPING = "shipping"
    # Mail to customers: a queue of its own, so a slow mail server never holds back a step.
    NOTIFICATIONS = "notifications"


def worker_argv(queues: Iterable[str], *, node: str, options: Iterable[str] = ()) -> list[str]:
    """`celery worker` consuming `queues` as node `node`: how the Procfile starts each queue's
    worker (`-Q <queue> -n <queue>@%h`, held to this by a test), and how tests and benchmarks
    start theirs."""
    return ["celery", "-A", "ordersite", "worker", "-Q", ",".join(queues), "-n", node, *options]


def routing_key(queue: str) -> str:
    return f"{EXCHANGE}.{queue}"


def declare(
    names: Iterable[str], *, delivery_limit: int, consumer_timeout_s: int
) -> list[kombu.Queue]:
    """The queues as Celery's `task_queues`. RabbitMQ fixes a queue's arguments when it is first
    declared, and refuses a later declaration with other ones (PRECONDITION_FAILED): changing
    `delivery_limit` means deleting the (drained) queue; see README, "Scaling out"."""
    exchange = kombu.Exchange(EXCHANGE, type="topic")
    arguments = {
        "x-queue-type": "quorum",
        # A message returned this many times (its worker died, its channel closed) is dropped by
        # RabbitMQ: the bound for when our own count (DLQ_MAX_DELIVERIES) cannot run.
        "x-delivery-limit": delivery_limit,
        # How long a worker may hold a message unacknowledged (RabbitMQ 3.12+; older servers
        # apply their own `consumer_timeout`, which the setting must then match).
        "x-consumer-timeout": consumer_timeout_s * 1000,
    }
    return [
        kombu.Queue(name, exchange, routing_key=routing_key(name), queue_arguments=arguments)
        for name in names
    ]


def is_amqp(broker_url: str) -> bool:
    """True for a RabbitMQ (AMQP) broker URL, False for Redis."""
    return urlsplit(broker_url).scheme.partition("+")[0] in AMQP_SCHEMES


def queue_of(delivery_info: Mapping[str, Any] | None, queues: Iterable[kombu.Queue]) -> str:
    """The queue a message was delivered from: the declared queue bound under its routing key (with
    any delayed-delivery prefix taken off). A key no declared queue has names the queue itself (a
    message sent to the default exchange, or to a queue Celery created on the fly)."""
    key = _DELAY_PREFIX.sub("", str((delivery_info or {}).get("routing_key") or ""), count=1)
    return next((queue.name for queue in queues if queue.routing_key == key), key)


def broker_countdown(seconds: float, broker_url: str) -> float:
    """A retry countdown the broker can honour: RabbitMQ's delayed delivery counts whole seconds
    and refuses a countdown that rounds down to zero, so there it is rounded up."""
    return math.ceil(seconds) if seconds > 0 and is_amqp(broker_url) else seconds
